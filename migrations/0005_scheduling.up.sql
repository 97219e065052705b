-- Workflows and scheduling: dependencies between tasks, children enqueued
-- by handlers, per-key limits, cron schedules, and a wake-up for due tasks.

ALTER TABLE tasks
  ADD COLUMN parent_id uuid,  -- the task whose handler enqueued this one
  -- Some blocked task waits for this one: its end settles them (trigger).
  ADD COLUMN has_dependents boolean NOT NULL DEFAULT false,
  ADD COLUMN limit_key text,
  ADD COLUMN limit_concurrency integer NOT NULL DEFAULT 0 CHECK (limit_concurrency >= 0),
  ADD COLUMN limit_rate integer NOT NULL DEFAULT 0 CHECK (limit_rate >= 0),
  ADD COLUMN limit_period_ms integer NOT NULL DEFAULT 0 CHECK (limit_period_ms >= 0),
  -- Waiting (scheduled) for room under its key's concurrency limit.
  ADD COLUMN limit_waiting boolean NOT NULL DEFAULT false,
  -- A start reserved under its key's rate limit: at or after this instant
  -- the claim admits it without taking another token.
  ADD COLUMN limit_reserved_at timestamptz;

CREATE INDEX tasks_parent ON tasks (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX tasks_limit_running ON tasks (limit_key) WHERE state = 'running' AND limit_key IS NOT NULL;
CREATE INDEX tasks_limit_waiting ON tasks (limit_key, priority DESC, run_at)
  WHERE state = 'scheduled' AND limit_waiting;

-- task_id runs only once every parent_id succeeded.
CREATE TABLE task_deps (
  task_id   uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  parent_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  PRIMARY KEY (task_id, parent_id)
);
CREATE INDEX task_deps_parent ON task_deps (parent_id);

-- Rate limits as a schedule of starts (GCRA): a start at or after
-- next_start - burst keeps `rate` starts per period. The row is also the
-- lock that serializes admissions of one key.
CREATE TABLE limit_keys (
  key        text PRIMARY KEY,
  next_start timestamptz NOT NULL DEFAULT 'epoch'
);

-- Concurrency units that handlers hold while they call an external service
-- (KeyLimiter): one row per permit, freed by its holder or when its lease
-- runs out (a worker that died holding it).
CREATE TABLE key_permits (
  key        text        NOT NULL REFERENCES limit_keys (key) ON DELETE CASCADE,
  holder     uuid        PRIMARY KEY,
  expires_at timestamptz NOT NULL
);
CREATE INDEX key_permits_key ON key_permits (key);

-- When a parent ends, its blocked dependents are settled in the same
-- transaction: queued once every parent succeeded, cancelled (with the
-- reason) when one ended any other way. A cancelled dependent fires this
-- trigger in turn, so the whole subtree is settled.
CREATE FUNCTION fila_settle_dependents() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Lock the dependents first: two parents of one task finishing at once
  -- then settle it one after the other, and the second sees the first.
  PERFORM 1 FROM tasks t
    WHERE t.id IN (SELECT d.task_id FROM task_deps d WHERE d.parent_id = NEW.id)
      AND t.state = 'blocked'
    ORDER BY t.id FOR UPDATE;
  IF NEW.state = 'succeeded' THEN
    WITH ready AS (
      SELECT d.task_id AS id FROM task_deps d JOIN tasks c ON c.id = d.task_id
      WHERE d.parent_id = NEW.id AND c.state = 'blocked'
        AND NOT EXISTS (SELECT 1 FROM task_deps d2 JOIN tasks p ON p.id = d2.parent_id
                        WHERE d2.task_id = d.task_id AND p.id <> NEW.id
                          AND p.state <> 'succeeded')
    ), upd AS (
      UPDATE tasks t SET state = CASE WHEN t.run_at > now() THEN 'scheduled' ELSE 'queued' END,
             updated_at = now()
      FROM ready WHERE t.id = ready.id AND t.state = 'blocked'
      RETURNING t.id, t.state
    )
    INSERT INTO outbox (task_id) SELECT id FROM upd WHERE state = 'queued';
  ELSE
    UPDATE tasks t SET state = 'cancelled', finished_at = now(), updated_at = now(),
           last_error = 'dependency ' || NEW.id || ' ended ' || NEW.state
    FROM task_deps d
    WHERE d.parent_id = NEW.id AND t.id = d.task_id AND t.state = 'blocked';
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER task_dependents AFTER UPDATE OF state ON tasks
  FOR EACH ROW
  WHEN (NEW.has_dependents AND OLD.state IS DISTINCT FROM NEW.state
        AND NEW.state IN ('succeeded', 'failed', 'dead', 'cancelled'))
  EXECUTE FUNCTION fila_settle_dependents();

-- A running task of a concurrency-limited key let go of its unit: the
-- longest-waiting task of that key is due at once (the relay releases it).
CREATE FUNCTION fila_wake_limit_waiter() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE tasks SET run_at = now(), updated_at = now()
  WHERE id = (SELECT id FROM tasks
              WHERE state = 'scheduled' AND limit_waiting AND limit_key = NEW.limit_key
              ORDER BY priority DESC, run_at LIMIT 1 FOR UPDATE SKIP LOCKED);
  RETURN NULL;
END;
$$;

CREATE TRIGGER task_limit_release AFTER UPDATE OF state ON tasks
  FOR EACH ROW
  WHEN (OLD.state = 'running' AND NEW.state <> 'running' AND NEW.limit_key IS NOT NULL
        AND NEW.limit_concurrency > 0)
  EXECUTE FUNCTION fila_wake_limit_waiter();

-- A task became scheduled (a delay, a retry, a limit wait): the relay
-- recomputes when to wake. Same channel as the outbox, told apart by the
-- payload.
CREATE FUNCTION fila_notify_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('fila_outbox', 'due');
  RETURN NULL;
END;
$$;

CREATE TRIGGER tasks_due_insert AFTER INSERT ON tasks
  FOR EACH ROW WHEN (NEW.state = 'scheduled') EXECUTE FUNCTION fila_notify_due();
CREATE TRIGGER tasks_due_update AFTER UPDATE OF state, run_at ON tasks
  FOR EACH ROW WHEN (NEW.state = 'scheduled') EXECUTE FUNCTION fila_notify_due();

-- Cron schedules. The leader scheduler fires due slots; each slot's task has
-- the idempotency key schedule:<name>:<slot>, so a slot runs once even if
-- two schedulers ever fired it.
CREATE TABLE schedules (
  tenant        text        NOT NULL DEFAULT 'default',
  name          text        NOT NULL,
  cron          text        NOT NULL,
  timezone      text        NOT NULL DEFAULT 'UTC',
  type          text        NOT NULL,
  queue         text        NOT NULL,
  priority      smallint    NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 9),
  payload       bytea       NOT NULL DEFAULT '',
  max_attempts  integer     NOT NULL CHECK (max_attempts >= 1),
  timeout_ms    integer     NOT NULL CHECK (timeout_ms > 0),
  -- After downtime: skip the missed slots, or run the latest one once.
  catch_up      text        NOT NULL DEFAULT 'skip' CHECK (catch_up IN ('skip', 'latest')),
  paused        boolean     NOT NULL DEFAULT false,
  next_fire_at  timestamptz,  -- NULL: no slot left
  last_slot_at  timestamptz,
  last_task_id  uuid,
  fired         bigint      NOT NULL DEFAULT 0,
  missed        bigint      NOT NULL DEFAULT 0,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, name)
);
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE NOT paused;
