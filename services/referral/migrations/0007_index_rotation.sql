-- Blind-index key rotation (issue 15): which index key computed each stored index, so
-- `relais-referral keys rotate --index` knows what is left to recompute (NULL: the key
-- in use before this migration).
ALTER TABLE subjects ADD COLUMN index_kid text;
CREATE INDEX subjects_index_kid ON subjects (pre_id, index_kid);
-- A child's referrals by subject: the erasure, the retention view and the re-indexing
-- (one lateral look-up per child) read them so; a sequential scan each before.
CREATE INDEX referrals_subject ON referrals (pre_id, subject_id, submitted_at DESC);
