-- Full-text search of document chunks (fila search --mode text|hybrid):
-- every chunk keeps a tsvector of its text, built with the text search
-- configuration of its document's owner, under a GIN index.
--
-- Configurations fila_<language> copy PostgreSQL's built-in ones (simple,
-- english, portuguese, ...) and put the unaccent dictionary before the
-- language's own for words with non-ASCII letters, so "decisao" finds
-- "decisão". unaccent ships with PostgreSQL's contrib (Debian's
-- postgresql-15 has it) and is a trusted extension since PostgreSQL 13: a
-- role with CREATE on the database may create it. When it cannot be
-- created, the configurations are made without it (stemming still works,
-- accents are not folded) and the migration says so in a WARNING;
-- `fila document language` shows whether accents are folded.
DO $$
DECLARE
  folds boolean := false;
  config record;
  word_dictionary text;
BEGIN
  BEGIN
    CREATE EXTENSION IF NOT EXISTS unaccent;
    folds := true;
  EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'text search without accent folding: the unaccent extension could not be created (%)', SQLERRM;
  END;
  FOR config IN
    SELECT c.cfgname FROM pg_ts_config c
    WHERE c.cfgnamespace = 'pg_catalog'::regnamespace ORDER BY c.cfgname
  LOOP
    EXECUTE format('CREATE TEXT SEARCH CONFIGURATION %I (COPY = pg_catalog.%I)',
                   'fila_' || config.cfgname, config.cfgname);
    IF folds THEN
      -- The dictionary the language uses for words (its stemmer, or simple).
      SELECT d.dictname INTO word_dictionary
      FROM pg_ts_config_map m
      JOIN pg_ts_dict d ON d.oid = m.mapdict
      JOIN pg_ts_config c ON c.oid = m.mapcfg
      WHERE c.cfgname = config.cfgname AND c.cfgnamespace = 'pg_catalog'::regnamespace
        AND m.maptokentype = (SELECT tokid FROM ts_token_type('default') WHERE alias = 'word')
      ORDER BY m.mapseqno DESC LIMIT 1;
      EXECUTE format('ALTER TEXT SEARCH CONFIGURATION %I ALTER MAPPING FOR hword, hword_part, word WITH unaccent, %I',
                     'fila_' || config.cfgname, word_dictionary);
    END IF;
  END LOOP;
END
$$;

-- The configuration of each owner's documents: owner '' is the tenant's
-- default for owners without a row of their own; without either,
-- fila_simple (no stemming, accents folded).
CREATE TABLE document_text_configs (
  tenant     text        NOT NULL,
  owner      text        NOT NULL,
  config     regconfig   NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, owner)
);

-- Every chunk of a document has its document's configuration (set when it
-- is stored, changed with the owner's setting); to_tsvector(regconfig,
-- text) is immutable, so the vector is a generated column and follows it.
ALTER TABLE document_chunks ADD COLUMN text_config regconfig NOT NULL DEFAULT 'fila_simple';
ALTER TABLE document_chunks ADD COLUMN text_vector tsvector
  GENERATED ALWAYS AS (to_tsvector(text_config, text)) STORED;
CREATE INDEX document_chunks_text_vector ON document_chunks USING gin (text_vector);
