-- The console's data (docs/console-api.md): the payload as JSON for `where`
-- filters, the indexes that keep every console view fast on millions of
-- tasks, the audit log of operator actions, bulk jobs and worker drains.

-- The payload as JSON (what GET /v1/tasks/{id} shows as payload_json),
-- written at enqueue; NULL for tasks enqueued before this migration and for
-- the tasks cron schedules fire (not searchable by payload).
ALTER TABLE tasks ADD COLUMN args jsonb;
-- `where args.x = v` is a containment test (args @> '{"x": v}').
CREATE INDEX tasks_args ON tasks USING gin (args jsonb_path_ops) WHERE args IS NOT NULL;
-- The task list filtered by state, newest first (keyset), for the states
-- a task reaches off its usual path. Every index on state costs each claim
-- and finish one more entry (a full index here halved the burn-down), so
-- succeeded, queued and running lists use tasks_created and the next one
-- (with a filter, or its state prefix).
CREATE INDEX tasks_state_created ON tasks (state, created_at DESC, id DESC)
  WHERE state IN ('dead', 'failed', 'cancelled', 'blocked', 'scheduled');
-- Queue depth by state and priority, counted from the index alone (GET
-- /v1/queues counts every state). Without it that count reads the whole
-- table; its cost is an entry per claim and finish (docs/console-api.md).
CREATE INDEX tasks_queue_state_priority ON tasks (queue, state, priority);
-- Dead and failed tasks grouped by error (its first 256 characters: a whole
-- error may be too long for a btree entry), with the latest as a sample.
CREATE INDEX tasks_ended_error ON tasks ((left(coalesce(last_error, ''), 256)), finished_at) INCLUDE (id)
  WHERE state IN ('dead', 'failed');
-- Throughput, failure rate, wait and run time over time.
CREATE INDEX tasks_finished ON tasks (finished_at) WHERE finished_at IS NOT NULL;

-- Every operator action: who (the token's id, or the database user for the
-- CLI), what, on what filter, how many tasks.
CREATE TABLE audit_log (
  id      bigserial   PRIMARY KEY,
  at      timestamptz NOT NULL DEFAULT now(),
  who     text        NOT NULL,
  role    text        NOT NULL,
  tenant  text        NOT NULL DEFAULT '',
  action  text        NOT NULL,
  target  text        NOT NULL DEFAULT '',
  filter  text        NOT NULL DEFAULT '',  -- JSON text of the filter, or ''
  count   bigint      NOT NULL DEFAULT 0
);

-- A bulk action on every task matching a filter, done by the API's bulk
-- runner in batches of its own transactions; `cursor_id` is the last task
-- id handled (batches go by id), so a batch is never applied twice and a
-- runner that dies leaves the job to another one once its lease expires.
CREATE TABLE bulk_jobs (
  id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text        NOT NULL DEFAULT '',
  action      text        NOT NULL CHECK (action IN ('retry', 'cancel', 'delete')),
  filter      text        NOT NULL,  -- JSON text: the fields of GET /v1/tasks
  state       text        NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done', 'failed')),
  total       bigint      NOT NULL DEFAULT 0,
  done        bigint      NOT NULL DEFAULT 0,
  skipped     bigint      NOT NULL DEFAULT 0,
  failed      bigint      NOT NULL DEFAULT 0,
  error       text        NOT NULL DEFAULT '',
  cursor_id   uuid,
  lease_until timestamptz,
  created_by  text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE INDEX bulk_jobs_running ON bulk_jobs (created_at) WHERE state = 'running';
CREATE INDEX bulk_jobs_created ON bulk_jobs (created_at DESC, id DESC);

-- An operator's drain: the worker stops taking new tasks (its heartbeat
-- reads the flag) and finishes the running ones. `version` is the worker's
-- build, written by each heartbeat.
ALTER TABLE workers
  ADD COLUMN draining boolean NOT NULL DEFAULT false,
  ADD COLUMN version text NOT NULL DEFAULT '';
