-- Notices to the family (issue 14): what it agreed to changes (a new partner, consent
-- about to expire, the follow-up appointment). Written in the transaction of the change,
-- once per guardian and cause (dedupe_key); the text is rendered in the guardian's
-- language when read. Facts hold a partner's name and dates only: never a staff note.
CREATE TABLE family_notices (
    id              uuid PRIMARY KEY,
    pre_id          text NOT NULL,
    situation_id    uuid NOT NULL REFERENCES situations (id),
    guardian_index  integer NOT NULL,
    kind            text NOT NULL,        -- new_partner | consent_expiring | followup_planned
    dedupe_key      text NOT NULL,
    facts           jsonb NOT NULL,
    channel         text NOT NULL,        -- email | sms | phone | post (the guardian's choice)
    language        text NOT NULL,
    created_at      timestamptz NOT NULL,
    sent_at         timestamptz,
    sent_by         text,
    UNIQUE (situation_id, guardian_index, kind, dedupe_key)
);
CREATE INDEX family_notices_pending ON family_notices (pre_id, created_at) WHERE sent_at IS NULL;
