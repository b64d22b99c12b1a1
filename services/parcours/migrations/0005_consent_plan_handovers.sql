-- Consent ledger: one row per consent; a change of scope supersedes the previous one.
CREATE TABLE consents (
    id                     uuid PRIMARY KEY,
    situation_id           uuid NOT NULL REFERENCES situations (id),
    pre_id                 text NOT NULL,
    form                   text NOT NULL,
    guardians              jsonb NOT NULL,     -- [{label, relationship}] who agreed
    sole_guardian_reason   text,               -- why one holder of parental authority signs alone
    witness                text,               -- oral consent: the witness (a professional)
    scope                  jsonb NOT NULL,     -- [{partner_id | partner_category, data_categories}]
    given_at               timestamptz NOT NULL,
    valid_until            date,
    recorded_by            text NOT NULL,
    status                 text NOT NULL,      -- active | superseded | withdrawn | expired
    supersedes             uuid,
    ended_at               timestamptz,
    withdrawn_by           text                -- the guardian who withdrew it
);
CREATE INDEX consents_situation ON consents (situation_id, status);

-- The plan: objectives and actions on the four axes.
CREATE TABLE plan_objectives (
    id            uuid PRIMARY KEY,
    situation_id  uuid NOT NULL REFERENCES situations (id),
    pre_id        text NOT NULL,
    axis          text NOT NULL,
    title         text NOT NULL,
    status        text NOT NULL,               -- open | met | abandoned
    target_on     date,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE TABLE plan_actions (
    id            uuid PRIMARY KEY,
    objective_id  uuid NOT NULL REFERENCES plan_objectives (id),
    situation_id  uuid NOT NULL REFERENCES situations (id),
    pre_id        text NOT NULL,
    axis          text NOT NULL,
    title         text NOT NULL,
    status        text NOT NULL,               -- planned | in_progress | done | cancelled
    starts_on     date,
    ends_on       date,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX plan_objectives_situation ON plan_objectives (situation_id);
CREATE INDEX plan_actions_situation ON plan_actions (situation_id);
ALTER TABLE situations ADD COLUMN plan_version integer NOT NULL DEFAULT 0;

-- Partner directory, HSDS 3: organization columns; services, locations, contacts as
-- HSDS-shaped documents (each with its own id) since they are read and written whole.
ALTER TABLE partners ADD COLUMN email text;
ALTER TABLE partners ADD COLUMN services jsonb NOT NULL DEFAULT '[]';
ALTER TABLE partners ADD COLUMN locations jsonb NOT NULL DEFAULT '[]';
ALTER TABLE partners ADD COLUMN contacts jsonb NOT NULL DEFAULT '[]';

-- Handovers: one action of the plan handed to one partner, under one consent.
CREATE TABLE handovers (
    id                 uuid PRIMARY KEY,
    situation_id       uuid NOT NULL REFERENCES situations (id),
    pre_id             text NOT NULL,
    action_id          uuid NOT NULL REFERENCES plan_actions (id),
    partner_id         text NOT NULL,
    referent_id        uuid NOT NULL,
    consent_id         uuid NOT NULL REFERENCES consents (id),
    data_categories    jsonb NOT NULL,
    message            text,                   -- the référent's words to the partner (sheet only)
    status             text NOT NULL,          -- requested | accepted | declined | waitlisted | completed | cancelled
    requested_at       timestamptz NOT NULL,
    response_due_on    date NOT NULL,
    responded_at       timestamptz,
    decline_reason     text,
    expected_start_on  date,
    starts_on          date,
    outcome            text,
    ended_at           timestamptz,
    cancel_reason      text,
    version            integer NOT NULL
);
CREATE INDEX handovers_situation ON handovers (situation_id);
CREATE INDEX handovers_partner ON handovers (pre_id, partner_id, status);

-- Disclosure ledger: every read of a handover sheet (who saw what, when).
CREATE TABLE disclosures (
    id               uuid PRIMARY KEY,
    situation_id     uuid NOT NULL REFERENCES situations (id),
    pre_id           text NOT NULL,
    handover_id      uuid NOT NULL REFERENCES handovers (id),
    partner_id       text NOT NULL,
    reader_sub       text NOT NULL,
    data_categories  jsonb NOT NULL,
    read_at          timestamptz NOT NULL
);
CREATE INDEX disclosures_situation ON disclosures (situation_id, read_at);

-- Closure and follow-up.
ALTER TABLE situations ADD COLUMN closed_at timestamptz;
ALTER TABLE situations ADD COLUMN exit_reason text;
ALTER TABLE situations ADD COLUMN exit_reason_text text;
ALTER TABLE situations ADD COLUMN final_review_held boolean;
ALTER TABLE situations ADD COLUMN followup_due_on date;
CREATE TABLE followups (
    id            uuid PRIMARY KEY,
    situation_id  uuid NOT NULL REFERENCES situations (id) UNIQUE,
    pre_id        text NOT NULL,
    outcome       text NOT NULL,
    held_on       date NOT NULL,
    recorded_by   text NOT NULL,
    recorded_at   timestamptz NOT NULL
);
