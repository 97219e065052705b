-- NF-e documents stored by nfe.download: one row per document of an account,
-- so that a re-run of a period updates rows instead of adding them.

CREATE TABLE nfe_documents (
  tenant        text        NOT NULL DEFAULT 'default',
  account       text        NOT NULL,
  -- The 44-digit access key, or "omie:<id>" when the document carries none.
  doc_key       text        NOT NULL,
  period        text        NOT NULL,
  omie_id       text        NOT NULL DEFAULT '',
  kind          text        NOT NULL,
  path          text        NOT NULL,
  sha256        text        NOT NULL,
  size_bytes    bigint      NOT NULL CHECK (size_bytes >= 0),
  valid         boolean     NOT NULL,
  failed_checks text[]      NOT NULL DEFAULT '{}',
  task_id       uuid,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, account, doc_key)
);

CREATE INDEX nfe_documents_period ON nfe_documents (tenant, account, period);
