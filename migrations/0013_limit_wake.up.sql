-- A task waiting for a concurrency unit of its limit key is woken when a
-- unit frees up, not by polling.
--
-- 0005 parked a waiting task as scheduled with run_at two seconds ahead:
-- every two seconds the relay queued it again to look (a publish, a
-- delivery and a claim each time, for every waiting task), and the end of
-- a holder made the longest-waiting task due at once (the relay then
-- queued it: one more round trip). A waiting task now stays parked, its
-- run_at the time it began to wait (its place in line), until it is queued
-- with its outbox row:
--   - in the transaction that ends a running task of its key (trigger
--     task_limit_release): the longest-waiting task, one per unit freed;
--   - by the leader's release of due tasks, when its key has room that no
--     queued or running task of the key holds: the wake the trigger could
--     not give (the waiter's admission was not committed yet when the
--     holder ended; its commit then notifies the leader).

CREATE OR REPLACE FUNCTION fila_wake_limit_waiter() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  woken uuid;
BEGIN
  UPDATE tasks SET state = 'queued', limit_waiting = false, updated_at = now()
  WHERE id = (SELECT id FROM tasks
              WHERE state = 'scheduled' AND limit_waiting AND limit_key = NEW.limit_key
              ORDER BY priority DESC, run_at LIMIT 1 FOR UPDATE SKIP LOCKED)
  RETURNING id INTO woken;
  -- Only then: an INSERT ... SELECT of no rows would still fire the
  -- outbox's statement trigger and wake the relay at every end of a
  -- limited task.
  IF woken IS NOT NULL THEN
    INSERT INTO outbox (task_id) VALUES (woken);
  END IF;
  RETURN NULL;
END;
$$;

-- Due tasks are the scheduled ones that are not waiting for their key.
DROP INDEX tasks_due;
CREATE INDEX tasks_due ON tasks (run_at) WHERE state = 'scheduled' AND NOT limit_waiting;
-- The tasks that hold or are about to take a unit of their key.
CREATE INDEX tasks_limit_active ON tasks (limit_key)
  WHERE state IN ('queued', 'running') AND limit_key IS NOT NULL;
