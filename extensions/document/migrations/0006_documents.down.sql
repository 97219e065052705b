-- The vector extension, if created, stays: other schemas may use it.
DROP TABLE IF EXISTS document_chunks;
DROP TABLE IF EXISTS documents;
