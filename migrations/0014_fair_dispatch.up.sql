-- Fair dispatch (docs/fairness.md): the relay no longer hands the whole
-- outbox to the broker. It keeps a window of ready messages per queue and
-- orders what waits in the outbox by effective priority (priority raised by
-- the wait), then by each tenant's usage over its weight.

-- Operators set a tenant's weight (fila tenants set --weight); NULL: 1.
ALTER TABLE tenants ADD COLUMN weight integer CHECK (weight BETWEEN 1 AND 1000);

-- What the order needs, on the outbox row itself: the relay walks the heads
-- of each (queue, priority, tenant) group through the index below and never
-- scans the outbox (it may hold a million rows). The wait of a row counts
-- from its created_at: it is written in the transaction that makes the task
-- queued (enqueue, release, a parent's success, the reaper, a republish).
ALTER TABLE outbox ADD COLUMN queue text, ADD COLUMN tenant text, ADD COLUMN priority smallint;

UPDATE outbox o SET queue = t.queue, tenant = t.tenant, priority = t.priority
FROM tasks t WHERE t.id = o.task_id;

ALTER TABLE outbox ALTER COLUMN queue SET NOT NULL, ALTER COLUMN tenant SET NOT NULL,
  ALTER COLUMN priority SET NOT NULL;

-- Many statements insert outbox rows (the enqueue, the due release, the
-- reaper, the triggers of 0005, 0009 and 0013, a republish): one trigger
-- fills the columns for all of them from the task. The task's row is
-- already written when its outbox row is (same statement or earlier).
CREATE FUNCTION fila_outbox_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.queue IS NULL OR NEW.tenant IS NULL OR NEW.priority IS NULL THEN
    SELECT t.queue, t.tenant, t.priority INTO NEW.queue, NEW.tenant, NEW.priority
    FROM tasks t WHERE t.id = NEW.task_id;
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER outbox_fill BEFORE INSERT ON outbox
  FOR EACH ROW EXECUTE FUNCTION fila_outbox_fill();

CREATE INDEX outbox_dispatch ON outbox (queue, priority, tenant, id);
