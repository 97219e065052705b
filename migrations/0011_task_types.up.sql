-- Task types as data (fila types apply, /v1/types): every version of every
-- registered type, as its serialized fila.v1.TaskTypeDefinition. A change
-- makes a new version; a task keeps the version it was enqueued under, so a
-- queued task still runs after its type changed or was deleted.

CREATE TABLE task_types (
  name        text        NOT NULL,
  version     integer     NOT NULL CHECK (version >= 1),
  definition  bytea       NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  deleted_at  timestamptz,  -- set on the latest version: no new task of the type
  PRIMARY KEY (name, version)
);

-- 0: a type compiled into fila.
ALTER TABLE tasks ADD COLUMN type_version integer NOT NULL DEFAULT 0 CHECK (type_version >= 0);

-- Daemons reload the types when one changes.
CREATE FUNCTION fila_notify_types() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('fila_types', '');
  RETURN NULL;
END;
$$;
CREATE TRIGGER task_types_changed AFTER INSERT OR UPDATE OR DELETE ON task_types
  FOR EACH STATEMENT EXECUTE FUNCTION fila_notify_types();
