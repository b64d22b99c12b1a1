-- Idempotency-Keys are pruned after REFERRAL_IDEMPOTENCY_RETENTION_DAYS (ADR 0007): the
-- pruning finds the oldest claims by this index.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
