-- Institutions allowed to refer children to a PRE, and the referrals they sent.
CREATE TABLE institutions (
    id          text PRIMARY KEY,              -- slug, also the token's org claim
    pre_id      text NOT NULL,
    name        text NOT NULL,
    category    text NOT NULL,                 -- SourceCategory
    uai         text,                          -- school code (Éducation nationale)
    siret       text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX institutions_pre ON institutions (pre_id);

CREATE TABLE referrals (
    id              uuid PRIMARY KEY,
    pre_id          text NOT NULL,
    institution_id  text NOT NULL REFERENCES institutions (id),
    subject_id      uuid NOT NULL,
    known_subject   boolean NOT NULL DEFAULT false,
    status          text NOT NULL,
    version         integer NOT NULL,          -- the envelope sequence of this aggregate
    facts           jsonb NOT NULL,            -- non-identifying facts (ReferralFacts)
    sealed          text NOT NULL,             -- identity + free text, JWE to the PRE
    submitted_at    timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX referrals_institution ON referrals (pre_id, institution_id, submitted_at DESC);

-- What the sender sees: one row per status change, in order.
CREATE TABLE referral_timeline (
    referral_id    uuid NOT NULL REFERENCES referrals (id),
    position       integer NOT NULL,
    status         text NOT NULL,
    reason         text,
    redirected_to  text,
    at             timestamptz NOT NULL,
    PRIMARY KEY (referral_id, position)
);
