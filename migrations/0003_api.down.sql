DROP TRIGGER IF EXISTS task_events ON tasks;
DROP FUNCTION IF EXISTS fila_notify_task_event();
DROP INDEX IF EXISTS tasks_tenant_created;
DROP TABLE IF EXISTS api_tokens;
