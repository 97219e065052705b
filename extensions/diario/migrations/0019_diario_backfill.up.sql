-- A tribunal's yearly index, cached: `fila diario backfill` reads a past
-- year from here and fetches the current year (which still grows) again.
CREATE TABLE diario_index_years (
  tribunal   text        NOT NULL,
  year       integer     NOT NULL,
  body       text        NOT NULL,  -- the answer as received (at most 4 MiB)
  editions   integer     NOT NULL,
  rejected   integer     NOT NULL,  -- entries set aside as malformed
  fetched_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tribunal, year)
);

-- A backfill: a tribunal's editions of a range of dates, planned year by
-- year, enqueued in batches. Running the same command again (same tenant,
-- tribunal, --from and --to as written, e.g. "today") resumes it.
CREATE TABLE diario_backfills (
  id           bigserial   PRIMARY KEY,
  tenant       text        NOT NULL,
  tribunal     text        NOT NULL,
  from_date    date        NOT NULL,
  to_arg       text        NOT NULL,  -- --to as given ("today" or a date)
  to_date      date        NOT NULL,  -- what it meant at the last run
  queue        text        NOT NULL DEFAULT '',
  state        text        NOT NULL DEFAULT 'planning' CHECK (state IN ('planning', 'planned')),
  years_read   integer     NOT NULL DEFAULT 0,
  rejected     integer     NOT NULL DEFAULT 0,  -- index entries set aside
  runs         integer     NOT NULL DEFAULT 0,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant, tribunal, from_date, to_arg)
);

-- Every edition a backfill discovered, and its task once enqueued. The
-- task's idempotency key is the edition's, so a batch enqueued again after
-- a stop finds its tasks instead of making new ones.
CREATE TABLE diario_backfill_editions (
  backfill_id  bigint NOT NULL REFERENCES diario_backfills (id) ON DELETE CASCADE,
  edition      text   NOT NULL,  -- "2024:162:SUP"
  gazette_date date   NOT NULL,
  number       integer NOT NULL,
  suffix       text   NOT NULL DEFAULT '',
  path         text   NOT NULL,
  task_id      uuid,
  PRIMARY KEY (backfill_id, edition)
);

CREATE INDEX diario_backfill_editions_unqueued ON diario_backfill_editions (backfill_id, gazette_date)
  WHERE task_id IS NULL;
CREATE INDEX diario_backfill_editions_task ON diario_backfill_editions (task_id);
