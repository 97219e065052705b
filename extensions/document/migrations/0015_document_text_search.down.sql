DROP INDEX IF EXISTS document_chunks_text_vector;
ALTER TABLE document_chunks DROP COLUMN IF EXISTS text_vector;
ALTER TABLE document_chunks DROP COLUMN IF EXISTS text_config;
DROP TABLE IF EXISTS document_text_configs;
DO $$
DECLARE
  config record;
BEGIN
  FOR config IN
    SELECT cfgname FROM pg_ts_config
    WHERE cfgname LIKE 'fila\_%' AND cfgnamespace = current_schema()::regnamespace
  LOOP
    EXECUTE format('DROP TEXT SEARCH CONFIGURATION %I', config.cfgname);
  END LOOP;
END
$$;
-- The unaccent extension stays: something else may use it, and it holds no data.
