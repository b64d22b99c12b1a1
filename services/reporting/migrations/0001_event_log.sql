-- The anonymous event log: every domain event without its sealed part. Projections are
-- rebuilt from it, so figures "as of" a date never change when asked again later.
CREATE TABLE event_log (
    id           uuid PRIMARY KEY,
    type         text NOT NULL,
    pre_id       text NOT NULL,
    subject      text NOT NULL,
    sequence     integer NOT NULL,
    occurred_at  timestamptz NOT NULL,
    data         jsonb NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX event_log_pre_time ON event_log (pre_id, occurred_at);

-- Projection: referrals per PRE, school year and source category.
CREATE TABLE referrals_by_year (
    pre_id           text NOT NULL,
    school_year      text NOT NULL,            -- '2026-2027'
    source_category  text NOT NULL,
    referrals        integer NOT NULL,
    PRIMARY KEY (pre_id, school_year, source_category)
);
