DROP TRIGGER IF EXISTS task_types_changed ON task_types;
DROP FUNCTION IF EXISTS fila_notify_types();
ALTER TABLE tasks DROP COLUMN IF EXISTS type_version;
DROP TABLE IF EXISTS task_types;
