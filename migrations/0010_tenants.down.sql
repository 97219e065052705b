DROP INDEX IF EXISTS tasks_root;
ALTER TABLE tasks DROP COLUMN IF EXISTS root_id;
DROP INDEX IF EXISTS tasks_tenant_waiting;
DROP TABLE IF EXISTS tenant_bindings;
DROP TABLE IF EXISTS tenants;
