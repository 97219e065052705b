-- Cancellation requests, per-task retry overrides, replay budgets and the
-- retry instant of each failed attempt.

ALTER TABLE tasks
  ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false,
  ADD COLUMN retry_base_ms integer NOT NULL DEFAULT 0 CHECK (retry_base_ms >= 0),  -- 0: the type's
  ADD COLUMN retry_cap_ms integer NOT NULL DEFAULT 0 CHECK (retry_cap_ms >= 0),    -- 0: the type's
  -- Attempts granted per run; a replay raises max_attempts by this much, so
  -- attempt numbers (the fencing tokens) never repeat.
  ADD COLUMN attempt_budget integer NOT NULL DEFAULT 1 CHECK (attempt_budget >= 1);

UPDATE tasks SET attempt_budget = max_attempts;

ALTER TABLE task_attempts ADD COLUMN retry_at timestamptz;

-- The reaper looks for running tasks by lease and by worker.
CREATE INDEX tasks_running_lease ON tasks (lease_until) WHERE state = 'running';
