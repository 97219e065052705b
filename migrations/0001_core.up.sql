-- Tasks, their attempts, the outbox relayed to the broker, and live workers.

CREATE TABLE tasks (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  type             text        NOT NULL,
  queue            text        NOT NULL,
  priority         smallint    NOT NULL CHECK (priority BETWEEN 0 AND 9),
  state            text        NOT NULL CHECK (state IN ('blocked', 'queued', 'scheduled', 'running',
                                                         'succeeded', 'failed', 'dead', 'cancelled')),
  attempt          integer     NOT NULL DEFAULT 0 CHECK (attempt >= 0),
  max_attempts     integer     NOT NULL CHECK (max_attempts >= 1),
  timeout_ms       integer     NOT NULL CHECK (timeout_ms > 0),
  tenant           text        NOT NULL DEFAULT 'default',
  idempotency_key  text,
  payload          bytea       NOT NULL DEFAULT '',
  trace_id         text        NOT NULL DEFAULT '',
  run_at           timestamptz NOT NULL DEFAULT now(),
  lease_until      timestamptz,
  worker           text,
  last_error       text,
  result           bytea,
  progress         smallint    NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
  progress_message text        NOT NULL DEFAULT '',
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now()
);

-- A repeated enqueue with the same key returns the existing task.
CREATE UNIQUE INDEX tasks_tenant_idempotency_key ON tasks (tenant, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
-- Non-terminal tasks are few and hot; terminal ones are many and cold.
CREATE INDEX tasks_active ON tasks (queue, state) WHERE state IN ('queued', 'scheduled', 'running', 'blocked');
CREATE INDEX tasks_due ON tasks (run_at) WHERE state = 'scheduled';
CREATE INDEX tasks_running_worker ON tasks (worker) WHERE state = 'running';
CREATE INDEX tasks_created ON tasks (created_at DESC, id DESC);

-- One row per finished attempt: why each attempt ended. Written only by a
-- finish whose fencing attempt matched, so a task has at most one row per
-- attempt.
CREATE TABLE task_attempts (
  task_id     uuid        NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  attempt     integer     NOT NULL,
  worker      text        NOT NULL DEFAULT '',
  outcome     text        NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'timed_out', 'cancelled', 'lost')),
  error       text        NOT NULL DEFAULT '',
  error_kind  text        NOT NULL DEFAULT '',
  started_at  timestamptz,
  finished_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (task_id, attempt)
);

-- Transactional outbox: committed with the task, deleted once the broker
-- confirmed the publish.
CREATE TABLE outbox (
  id         bigserial PRIMARY KEY,
  task_id    uuid        NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION fila_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('fila_outbox', '');
  RETURN NULL;
END;
$$;

-- One notification per statement; Postgres folds repeats within a transaction.
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION fila_notify_outbox();

CREATE TABLE workers (
  id           text PRIMARY KEY,
  hostname     text        NOT NULL DEFAULT '',
  pid          bigint      NOT NULL DEFAULT 0,
  queues       text[]      NOT NULL DEFAULT '{}',
  concurrency  integer     NOT NULL DEFAULT 0,
  started_at   timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);
