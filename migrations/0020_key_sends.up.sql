-- A limit key's minimum gap between requests (LimitSpec::min_gap) counts
-- from when a request leaves, not from when its holder was admitted: the
-- admitted holder keeps the key (sender, until sender_until) until it
-- reports its send (sent_at) or lets go.
ALTER TABLE limit_keys
  ADD COLUMN sent_at      timestamptz NOT NULL DEFAULT 'epoch',
  ADD COLUMN sender       uuid,
  ADD COLUMN sender_until timestamptz;
