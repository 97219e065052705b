ALTER TABLE limit_keys
  DROP COLUMN sent_at,
  DROP COLUMN sender,
  DROP COLUMN sender_until;
