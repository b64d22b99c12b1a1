-- Identity at rest: opened from the referral's JWE, re-encrypted with a key per subject.
-- Deleting a subject's key leaves its identities unreadable (crypto-erasure), so the
-- JWE (readable with the PRE key) is not kept once the identity is stored.
CREATE TABLE subject_keys (
    subject_id   uuid PRIMARY KEY,
    pre_id       text NOT NULL,
    wrapped_key  bytea NOT NULL,          -- AES-256 data key, AES-GCM wrapped by the master key
    master_kid   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE situation_referrals ALTER COLUMN sealed DROP NOT NULL;
ALTER TABLE situation_referrals ADD COLUMN identity_enc bytea;  -- nonce || ciphertext

-- Durable deadlines: one row per deadline, claimed FOR UPDATE SKIP LOCKED by the
-- scheduler of any replica; fired_at makes each one fire once.
CREATE TABLE deadlines (
    id            uuid PRIMARY KEY,
    pre_id        text NOT NULL,
    situation_id  uuid NOT NULL REFERENCES situations (id),
    kind          text NOT NULL,              -- review | handover_response | followup
    handover_id   uuid,
    due_on        date NOT NULL,
    fired_at      timestamptz,
    resolved_at   timestamptz
);
CREATE INDEX deadlines_pending ON deadlines (due_on) WHERE fired_at IS NULL AND resolved_at IS NULL;
CREATE INDEX deadlines_situation ON deadlines (situation_id, kind);
