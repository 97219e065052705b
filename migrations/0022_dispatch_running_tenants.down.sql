DROP INDEX IF EXISTS tasks_running_queue_tenant;
