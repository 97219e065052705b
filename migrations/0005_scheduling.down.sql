DROP TABLE schedules;
DROP TRIGGER tasks_due_update ON tasks;
DROP TRIGGER tasks_due_insert ON tasks;
DROP FUNCTION fila_notify_due();
DROP TRIGGER task_limit_release ON tasks;
DROP FUNCTION fila_wake_limit_waiter();
DROP TRIGGER task_dependents ON tasks;
DROP FUNCTION fila_settle_dependents();
DROP TABLE key_permits;
DROP TABLE limit_keys;
DROP TABLE task_deps;
ALTER TABLE tasks
  DROP COLUMN parent_id,
  DROP COLUMN has_dependents,
  DROP COLUMN limit_key,
  DROP COLUMN limit_concurrency,
  DROP COLUMN limit_rate,
  DROP COLUMN limit_period_ms,
  DROP COLUMN limit_waiting,
  DROP COLUMN limit_reserved_at;
