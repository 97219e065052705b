-- Court gazettes processed by diario.process and the decisions found in
-- them. A gazette is one row per (tenant, tribunal, source): a retried or
-- repeated task updates it and replaces its decisions.

CREATE TABLE diario_gazettes (
  id              bigserial   PRIMARY KEY,
  tenant          text        NOT NULL DEFAULT 'default',
  tribunal        text        NOT NULL,
  -- The date when the task named one, else the URL.
  source          text        NOT NULL,
  gazette_date    date,
  url             text        NOT NULL,
  status          text        NOT NULL CHECK (status IN ('processed', 'no_gazette')),
  sha256          text        NOT NULL DEFAULT '',
  size_bytes      bigint      NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
  pages           integer     NOT NULL DEFAULT 0 CHECK (pages >= 0),
  archive_uri     text        NOT NULL DEFAULT '',
  numbers_found   integer     NOT NULL DEFAULT 0,
  -- CNJ-shaped numbers whose check digits are wrong: reported, never used.
  invalid_numbers jsonb       NOT NULL DEFAULT '[]',
  entries         integer     NOT NULL DEFAULT 0,
  decisions       integer     NOT NULL DEFAULT 0,
  llm_used        boolean     NOT NULL DEFAULT false,
  task_id         uuid,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant, tribunal, source)
);

CREATE INDEX diario_gazettes_task ON diario_gazettes (task_id);

CREATE TABLE diario_decisions (
  id              bigserial PRIMARY KEY,
  gazette_id      bigint    NOT NULL REFERENCES diario_gazettes (id) ON DELETE CASCADE,
  seq             integer   NOT NULL,
  process_number  text      NOT NULL,
  number_valid    boolean   NOT NULL,
  process_class   text      NOT NULL DEFAULT '',
  page            integer   NOT NULL,
  origin          text      NOT NULL DEFAULT '',
  origin_number   text      NOT NULL DEFAULT '',
  rapporteur      text      NOT NULL DEFAULT '',
  decision_text   text      NOT NULL DEFAULT '',
  partial         boolean   NOT NULL DEFAULT false,
  outcome         text      NOT NULL,
  UNIQUE (gazette_id, seq)
);

CREATE INDEX diario_decisions_number ON diario_decisions (process_number);

CREATE TABLE diario_parties (
  decision_id bigint  NOT NULL REFERENCES diario_decisions (id) ON DELETE CASCADE,
  seq         integer NOT NULL,
  role        text    NOT NULL,
  name        text    NOT NULL,
  PRIMARY KEY (decision_id, seq)
);

CREATE TABLE diario_lawyers (
  decision_id bigint  NOT NULL REFERENCES diario_decisions (id) ON DELETE CASCADE,
  seq         integer NOT NULL,
  name        text    NOT NULL,
  kind        text    NOT NULL CHECK (kind IN ('advogado', 'procurador', 'defensor')),
  oab_state   text    NOT NULL DEFAULT '',
  oab_number  text    NOT NULL DEFAULT '',
  party_seq   integer,
  PRIMARY KEY (decision_id, seq)
);

CREATE INDEX diario_lawyers_oab ON diario_lawyers (oab_state, oab_number) WHERE oab_number <> '';
