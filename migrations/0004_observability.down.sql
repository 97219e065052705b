ALTER TABLE workers
  DROP COLUMN IF EXISTS finished_by_queue,
  DROP COLUMN IF EXISTS failed,
  DROP COLUMN IF EXISTS succeeded;
