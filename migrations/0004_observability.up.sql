-- Per-worker totals since the worker process started, written by each
-- heartbeat: `fila top` shows them and derives per-queue rates from them
-- without scanning the tasks table.
ALTER TABLE workers
  ADD COLUMN succeeded bigint NOT NULL DEFAULT 0,
  ADD COLUMN failed bigint NOT NULL DEFAULT 0,
  ADD COLUMN finished_by_queue jsonb NOT NULL DEFAULT '{}';
