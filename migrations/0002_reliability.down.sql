DROP INDEX IF EXISTS tasks_running_lease;
ALTER TABLE task_attempts DROP COLUMN IF EXISTS retry_at;
ALTER TABLE tasks
  DROP COLUMN IF EXISTS attempt_budget,
  DROP COLUMN IF EXISTS retry_cap_ms,
  DROP COLUMN IF EXISTS retry_base_ms,
  DROP COLUMN IF EXISTS cancel_requested;
