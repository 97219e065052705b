-- Back to 0005's settlement: one level per nested trigger call.

CREATE OR REPLACE FUNCTION fila_settle_dependents() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Lock the dependents first: two parents of one task finishing at once
  -- then settle it one after the other, and the second sees the first.
  PERFORM 1 FROM tasks t
    WHERE t.id IN (SELECT d.task_id FROM task_deps d WHERE d.parent_id = NEW.id)
      AND t.state = 'blocked'
    ORDER BY t.id FOR UPDATE;
  IF NEW.state = 'succeeded' THEN
    WITH ready AS (
      SELECT d.task_id AS id FROM task_deps d JOIN tasks c ON c.id = d.task_id
      WHERE d.parent_id = NEW.id AND c.state = 'blocked'
        AND NOT EXISTS (SELECT 1 FROM task_deps d2 JOIN tasks p ON p.id = d2.parent_id
                        WHERE d2.task_id = d.task_id AND p.id <> NEW.id
                          AND p.state <> 'succeeded')
    ), upd AS (
      UPDATE tasks t SET state = CASE WHEN t.run_at > now() THEN 'scheduled' ELSE 'queued' END,
             updated_at = now()
      FROM ready WHERE t.id = ready.id AND t.state = 'blocked'
      RETURNING t.id, t.state
    )
    INSERT INTO outbox (task_id) SELECT id FROM upd WHERE state = 'queued';
  ELSE
    UPDATE tasks t SET state = 'cancelled', finished_at = now(), updated_at = now(),
           last_error = 'dependency ' || NEW.id || ' ended ' || NEW.state
    FROM task_deps d
    WHERE d.parent_id = NEW.id AND t.id = d.task_id AND t.state = 'blocked';
  END IF;
  RETURN NULL;
END;
$$;

