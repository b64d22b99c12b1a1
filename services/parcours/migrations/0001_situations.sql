-- Situations: the PRE's file on one child, opened by the first referral.
CREATE TABLE situations (
    id             uuid PRIMARY KEY,
    pre_id         text NOT NULL,
    subject_id     uuid NOT NULL,
    stage          text NOT NULL,            -- awaiting_review | in_parcours | closed ...
    version        integer NOT NULL,         -- envelope sequence of this aggregate
    opened_at      timestamptz NOT NULL,
    review_due_on  date NOT NULL,
    UNIQUE (pre_id, subject_id)
);

-- Every referral that concerns a situation, with its sealed identity (JWE to the PRE).
CREATE TABLE situation_referrals (
    referral_id     uuid PRIMARY KEY,
    situation_id    uuid NOT NULL REFERENCES situations (id),
    pre_id          text NOT NULL,
    institution_id  text NOT NULL,
    facts           jsonb NOT NULL,
    sealed          text NOT NULL,
    received_at     timestamptz NOT NULL
);
CREATE INDEX situation_referrals_situation ON situation_referrals (situation_id);
