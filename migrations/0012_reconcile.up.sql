-- Reconciliation (docs/operations.md): the leader republishes queued tasks
-- that stay unclaimed long after they were handed to the broker (a purged
-- or deleted queue, a lost node). It looks per queue, at the queued tasks
-- longest since their updated_at: every statement that makes a task queued
-- (enqueue, due release, reaper, replay, a parent's success) sets it in
-- the transaction that writes the outbox row, and a republish sets it
-- again, so the publish path itself writes nothing more per task.
CREATE INDEX tasks_queued_since ON tasks (queue, updated_at) WHERE state = 'queued';
