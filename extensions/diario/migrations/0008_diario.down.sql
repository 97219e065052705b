DROP TABLE IF EXISTS diario_lawyers;
DROP TABLE IF EXISTS diario_parties;
DROP TABLE IF EXISTS diario_decisions;
DROP TABLE IF EXISTS diario_gazettes;
