ALTER TABLE diario_decisions DROP COLUMN IF EXISTS judgment_rapporteur;
