-- Identity encrypted at rest, one subject per child (blind index), idempotent submissions,
-- and a richer institutions directory.

-- The fiche (identity + free text), JWE dir/A256GCM under the PRE's store key; NULL once
-- the subject is erased. ``sealed`` (to the PRE) stays what leaves the service.
ALTER TABLE referrals ADD COLUMN identity text;
ALTER TABLE referrals ADD COLUMN channel text NOT NULL DEFAULT 'http';   -- http | amqp
ALTER TABLE referrals ADD COLUMN external_ref text;                      -- sender's own ref
CREATE INDEX referrals_status ON referrals (pre_id, institution_id, status, submitted_at DESC);

-- One child, one subject_id per PRE: HMAC-SHA256 of the normalised identity under the
-- PRE's index key. No name, no birth date: only the keyed digest.
CREATE TABLE subjects (
    pre_id       text NOT NULL,
    blind_index  text NOT NULL,
    subject_id   uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pre_id, blind_index)
);
CREATE INDEX subjects_subject ON subjects (pre_id, subject_id);

-- Idempotency-Key of POST /v1/referrals, scoped by institution. ``fingerprint`` is a
-- keyed digest of the body (the same key with another body is a conflict).
CREATE TABLE idempotency_keys (
    pre_id          text NOT NULL,
    institution_id  text NOT NULL,
    key             text NOT NULL,
    fingerprint     text NOT NULL,
    referral_id     uuid NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pre_id, institution_id, key)
);

ALTER TABLE institutions ADD COLUMN active boolean NOT NULL DEFAULT true;
ALTER TABLE institutions ADD COLUMN contacts jsonb NOT NULL DEFAULT '[]';
ALTER TABLE institutions ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
