-- Fair dispatch asks, at each pass and for each group of the outbox,
-- whether another tenant has tasks running in the group's queue
-- (docs/fairness.md, rule 5): a quiet tenant alone in the outbox must still
-- go ahead of a flood that sits in the broker. With tasks_active that read
-- every running task of the queue (1.4-1.8 ms with 2,000 running); here it
-- is two probes, for a tenant before and after the group's.
CREATE INDEX tasks_running_queue_tenant ON tasks (queue, tenant) WHERE state = 'running';
