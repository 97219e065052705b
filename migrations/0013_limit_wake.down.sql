-- Back to 0005's waiting: a two-second timer, and the end of a holder
-- making the longest-waiting task due (the relay queues it).

DROP INDEX tasks_limit_active;
DROP INDEX tasks_due;
CREATE INDEX tasks_due ON tasks (run_at) WHERE state = 'scheduled';

CREATE OR REPLACE FUNCTION fila_wake_limit_waiter() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE tasks SET run_at = now(), updated_at = now()
  WHERE id = (SELECT id FROM tasks
              WHERE state = 'scheduled' AND limit_waiting AND limit_key = NEW.limit_key
              ORDER BY priority DESC, run_at LIMIT 1 FOR UPDATE SKIP LOCKED);
  RETURN NULL;
END;
$$;

-- Tasks parked by 0013 have no timer: due now, they look again.
UPDATE tasks SET run_at = now() WHERE state = 'scheduled' AND limit_waiting;
