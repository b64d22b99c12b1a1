-- A referral withdrawn by its sender before the review: its identity is dropped at once.
ALTER TABLE situation_referrals ADD COLUMN withdrawn_at timestamptz;
-- Erasure: when every record about a child was erased (its key deleted, texts cleared).
ALTER TABLE situations ADD COLUMN erased_at timestamptz;
