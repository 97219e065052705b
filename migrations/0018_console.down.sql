ALTER TABLE workers DROP COLUMN IF EXISTS draining, DROP COLUMN IF EXISTS version;
DROP TABLE IF EXISTS bulk_jobs;
DROP TABLE IF EXISTS audit_log;
DROP INDEX IF EXISTS tasks_finished;
DROP INDEX IF EXISTS tasks_ended_error;
DROP INDEX IF EXISTS tasks_queue_state_priority;
DROP INDEX IF EXISTS tasks_state_created;
DROP INDEX IF EXISTS tasks_args;
ALTER TABLE tasks DROP COLUMN IF EXISTS args;
