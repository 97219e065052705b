DROP INDEX IF EXISTS tasks_queued_since;
