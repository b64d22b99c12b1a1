-- The family's door (issue 14): access letters, the guardian's choices, their requests.
-- No name is stored here: a guardian is its position among the latest referral's
-- guardians (the identity stays encrypted in situation_referrals).

-- One access letter per guardian: a one-time link and a short code, both stored hashed
-- (the link as SHA-256, the code as HMAC keyed by the link, so the code table alone
-- cannot be searched by brute force).
CREATE TABLE family_letters (
    id              uuid PRIMARY KEY,
    pre_id          text NOT NULL,
    situation_id    uuid NOT NULL REFERENCES situations (id),
    guardian_index  integer NOT NULL CHECK (guardian_index >= 0),
    link_hash       bytea NOT NULL UNIQUE,
    code_hash       bytea NOT NULL,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    failed_attempts integer NOT NULL DEFAULT 0,
    used_at         timestamptz,          -- exchanged for a session (once)
    revoked_at      timestamptz,          -- by the référent, or locked after failed codes
    revoked_by      text
);
CREATE INDEX family_letters_situation ON family_letters (situation_id, guardian_index);

-- What a guardian chose: the language of what it receives and how the PRE reaches it.
CREATE TABLE family_preferences (
    situation_id    uuid NOT NULL REFERENCES situations (id),
    guardian_index  integer NOT NULL,
    pre_id          text NOT NULL,
    language        text,
    channel         text,                 -- post | email | phone | sms
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (situation_id, guardian_index)
);

-- Requests to correct or erase data (RGPD art. 16/17): the coordinator must answer
-- within a month (art. 12.3); the deadline lives in `deadlines` (kind family_request).
CREATE TABLE family_requests (
    id              uuid PRIMARY KEY,
    pre_id          text NOT NULL,
    situation_id    uuid NOT NULL REFERENCES situations (id),
    guardian_index  integer NOT NULL,
    kind            text NOT NULL,        -- correction | erasure
    details         text,                 -- the family's words (never on the broker)
    status          text NOT NULL,        -- open | answered
    made_at         timestamptz NOT NULL,
    due_on          date NOT NULL,
    answered_at     timestamptz,
    answered_by     text,
    answer          text
);
CREATE INDEX family_requests_open ON family_requests (pre_id, status, due_on);
ALTER TABLE deadlines ADD COLUMN family_request_id uuid REFERENCES family_requests (id);

-- How families reach the PRE (printed on letters, shown in the family space).
ALTER TABLE pre_settings ADD COLUMN family_contact jsonb;
