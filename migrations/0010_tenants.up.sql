-- Tenants as operators set them up (fila tenants, /v1/tenants): quotas, and
-- the bindings that say what a tenant's producers may name (queues beyond
-- each type's default, ERP accounts, upload targets, a document folder).
-- A tenant without a row has no bindings and the scheduler's default quotas.

CREATE TABLE tenants (
  name                text        PRIMARY KEY,
  max_waiting         bigint      CHECK (max_waiting >= 0),          -- NULL: the default
  max_schedules       integer     CHECK (max_schedules >= 0),
  min_cron_interval_s integer     CHECK (min_cron_interval_s >= 0),
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tenant_bindings (
  tenant     text        NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
  kind       text        NOT NULL,
  value      text        NOT NULL,
  -- An exclusive value (an ERP account) belongs to one tenant at most.
  exclusive  boolean     NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, kind, value)
);
CREATE UNIQUE INDEX tenant_bindings_exclusive ON tenant_bindings (kind, value) WHERE exclusive;

-- The waiting-task quota counts these.
CREATE INDEX tasks_tenant_waiting ON tasks (tenant) WHERE state IN ('queued', 'scheduled', 'blocked');

-- The workflow tree a task belongs to (NULL: it is a root): its size is
-- capped when a handler enqueues children.
ALTER TABLE tasks ADD COLUMN root_id uuid;
CREATE INDEX tasks_root ON tasks (root_id) WHERE root_id IS NOT NULL;
