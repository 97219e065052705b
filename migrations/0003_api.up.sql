-- API tokens (only their SHA-256 is stored), task event notifications for
-- Server-Sent Events, and the index behind cursor pagination per tenant.

CREATE TABLE api_tokens (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant      text        NOT NULL,
  role        text        NOT NULL CHECK (role IN ('producer', 'operator')),
  hash        bytea       NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);

CREATE INDEX tasks_tenant_created ON tasks (tenant, created_at DESC, id DESC);

-- One notification per change of state or progress; the payload is the task
-- id. Listeners read the row, so a coalesced notification loses nothing.
CREATE FUNCTION fila_notify_task_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('fila_task_events', NEW.id::text);
  RETURN NULL;
END;
$$;

CREATE TRIGGER task_events AFTER UPDATE OF state, progress, progress_message ON tasks
  FOR EACH ROW
  WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.progress IS DISTINCT FROM NEW.progress
        OR OLD.progress_message IS DISTINCT FROM NEW.progress_message)
  EXECUTE FUNCTION fila_notify_task_event();
