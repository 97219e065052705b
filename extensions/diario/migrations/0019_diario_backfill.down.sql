DROP TABLE IF EXISTS diario_backfill_editions;
DROP TABLE IF EXISTS diario_backfills;
DROP TABLE IF EXISTS diario_index_years;
