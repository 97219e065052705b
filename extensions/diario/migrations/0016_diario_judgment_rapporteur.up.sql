-- Who wrote the judgment ("Relator p/ acórdão", "Relator do acórdão") when
-- the entry names one apart from its rapporteur; NULL when it does not.
-- The share of decisions left 'desconhecido' per gazette is not stored: it
-- is counted from diario_decisions.outcome (fila diario stats).
ALTER TABLE diario_decisions ADD COLUMN judgment_rapporteur text;
