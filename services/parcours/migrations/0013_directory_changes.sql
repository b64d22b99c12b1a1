-- Partners keep their own entry (ADR 0009): a partner proposes a change, a coordinator
-- approves (it is then published) or rejects it with a reason. Each publication bumps
-- the entry's version (the sequence of partner.entry_published).
ALTER TABLE partners ADD COLUMN version integer NOT NULL DEFAULT 1;

CREATE TABLE directory_changes (
    id            uuid PRIMARY KEY,
    pre_id        text NOT NULL,
    partner_id    text NOT NULL REFERENCES partners (id),
    proposed      jsonb NOT NULL,              -- the whole entry as it would be published
    parts         text[] NOT NULL,             -- the entry's fields it changes
    base_version  integer NOT NULL,            -- the published version it starts from
    status        text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'superseded')),
    proposed_by   text NOT NULL,               -- the partner user's sub
    proposed_at   timestamptz NOT NULL,
    decided_by    text,
    decided_at    timestamptz,
    reason        text                         -- why it was rejected, for the partner
);
-- One pending change per partner: a new proposal supersedes the one waiting.
CREATE UNIQUE INDEX directory_changes_pending ON directory_changes (partner_id)
    WHERE status = 'pending';
CREATE INDEX directory_changes_pre ON directory_changes (pre_id, status, proposed_at);
