DROP TABLE IF EXISTS queue_pauses;
