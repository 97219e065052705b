-- document.ingest: documents, their chunks and one vector per chunk. A
-- document is identified by (tenant, owner, document_id); re-ingesting it
-- replaces its chunks. Vectors are unit length, so cosine similarity is a
-- dot product.

CREATE TABLE documents (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant      text        NOT NULL DEFAULT 'default',
  owner       text        NOT NULL,
  document_id text        NOT NULL,
  title       text        NOT NULL DEFAULT '',
  source      text        NOT NULL,
  media_type  text        NOT NULL,
  embedder    text        NOT NULL,  -- descriptor (JSON) of the vector space
  dimension   integer     NOT NULL CHECK (dimension > 0),
  bytes       bigint      NOT NULL,
  characters  bigint      NOT NULL,
  pages       integer     NOT NULL DEFAULT 0,
  content     text        NOT NULL,  -- the extracted text chunk offsets point into
  task_id     uuid,                  -- the last ingesting task (no FK: tasks may be purged)
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant, owner, document_id)
);
CREATE INDEX documents_embedder ON documents (embedder, tenant, owner);

CREATE TABLE document_chunks (
  document     uuid    NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
  ordinal      integer NOT NULL,
  text         text    NOT NULL,
  start_offset bigint  NOT NULL,  -- code points into documents.content: [start, end)
  end_offset   bigint  NOT NULL CHECK (end_offset > start_offset),
  page         integer NOT NULL DEFAULT 0,  -- PDF page the chunk starts on, 0 otherwise
  heading_path text    NOT NULL DEFAULT '',
  embedding    real[]  NOT NULL,
  PRIMARY KEY (document, ordinal)
);

-- With pgvector, vectors are also kept as `vector` and searched with its
-- cosine operator. CREATE EXTENSION fails when the extension is not
-- installed (or the role may not create it): check first, and keep the
-- real[] column, which always works.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
    BEGIN
      CREATE EXTENSION IF NOT EXISTS vector;
      EXECUTE 'ALTER TABLE document_chunks ADD COLUMN embedding_vector vector';
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'pgvector is available but may not be created by this role: using real[]';
    END;
  END IF;
END
$$;
