-- The outbox's notification names what was added: one per (queue, tenant)
-- of the statement's rows, with their highest priority, as
-- "queue<TAB>tenant<TAB>priority". The relay, while a window holds a
-- tenant's older rows back, skips the pass such a notification used to
-- start (the new rows go behind the held ones): under one tenant's flood
-- every enqueue's commit woke it, for passes that found the window full.
-- A quiet tenant's rows still wake it at once. PostgreSQL folds identical
-- notifications within a transaction, so a group commit of one tenant's
-- tasks still sends one.
CREATE OR REPLACE FUNCTION fila_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('fila_outbox', a.queue || E'\t' || a.tenant || E'\t' || max(a.priority))
  FROM added a GROUP BY a.queue, a.tenant;
  RETURN NULL;
END;
$$;

DROP TRIGGER outbox_notify ON outbox;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
  REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION fila_notify_outbox();
