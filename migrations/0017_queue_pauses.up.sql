-- Queues paused by operators (fila queues pause, POST /v1/queues/{queue}:pause):
-- the relay publishes none of their outbox rows and a claim starts none of
-- their tasks (docs/operations.md, "Pausing a queue"). A row is a pause;
-- resuming deletes it.
CREATE TABLE queue_pauses (
  queue     text        PRIMARY KEY,
  paused_by text        NOT NULL,
  paused_at timestamptz NOT NULL DEFAULT now()
);
