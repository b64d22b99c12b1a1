-- Team reviews (EPS): a meeting, its agenda of situations, one decision per situation.
CREATE TABLE review_meetings (
    id          uuid PRIMARY KEY,
    pre_id      text NOT NULL,
    meets_on    date NOT NULL,
    attendees   jsonb NOT NULL DEFAULT '[]',  -- [{name, organisation, role}] professionals only
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX review_meetings_pre ON review_meetings (pre_id, meets_on);

CREATE TABLE review_agenda (
    meeting_id    uuid NOT NULL REFERENCES review_meetings (id),
    situation_id  uuid NOT NULL REFERENCES situations (id),
    pre_id        text NOT NULL,
    position      integer NOT NULL,
    PRIMARY KEY (meeting_id, situation_id)
);

CREATE TABLE review_decisions (
    id                 uuid PRIMARY KEY,
    meeting_id         uuid NOT NULL REFERENCES review_meetings (id),
    situation_id       uuid NOT NULL REFERENCES situations (id) UNIQUE,
    pre_id             text NOT NULL,
    decision           text NOT NULL,
    decline_reason     text,
    redirected_to      text,
    redirect_category  text,
    axes               jsonb NOT NULL DEFAULT '[]',
    attendees          jsonb NOT NULL,
    decided_by         text NOT NULL,
    decided_at         timestamptz NOT NULL
);

ALTER TABLE situations ADD COLUMN started_on date;
ALTER TABLE situations ADD COLUMN axes jsonb NOT NULL DEFAULT '[]';
ALTER TABLE situations ADD COLUMN referent_id uuid;

-- Référents and their caseloads; assignments keep the whole history.
CREATE TABLE pre_settings (
    pre_id               text PRIMARY KEY,
    caseload_limit       integer,
    max_duration_months  integer
);

CREATE TABLE referents (
    id              uuid PRIMARY KEY,
    pre_id          text NOT NULL,
    user_sub        text NOT NULL,            -- the staff member's token subject
    display_name    text NOT NULL,
    caseload_limit  integer,                  -- NULL: the PRE's limit
    active          boolean NOT NULL DEFAULT true,
    UNIQUE (pre_id, user_sub)
);

CREATE TABLE referent_assignments (
    id               uuid PRIMARY KEY,
    situation_id     uuid NOT NULL REFERENCES situations (id),
    pre_id           text NOT NULL,
    referent_id      uuid NOT NULL REFERENCES referents (id),
    assigned_at      timestamptz NOT NULL,
    assigned_by      text NOT NULL,
    ended_at         timestamptz,
    over_limit       boolean NOT NULL DEFAULT false,
    override_reason  text
);
CREATE INDEX referent_assignments_current ON referent_assignments (referent_id) WHERE ended_at IS NULL;
CREATE INDEX referent_assignments_situation ON referent_assignments (situation_id, assigned_at);
