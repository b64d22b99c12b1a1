-- Projections as one anonymous fact document per aggregate (referral, situation,
-- handover), folded from event_log by relais_reporting.domain.facts. Indicators are
-- computed from these documents; `relais-reporting rebuild` recreates them from the log.
CREATE TABLE fact (
    kind    text NOT NULL,          -- referral | situation | handover
    key     text NOT NULL,          -- the aggregate id
    pre_id  text NOT NULL,
    doc     jsonb NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX fact_pre ON fact (pre_id, kind);

-- Replaced by the fact documents (a projection, rebuilt from the log).
DROP TABLE referrals_by_year;

-- Streaming the log in arrival order for a rebuild or a past day's figures.
CREATE INDEX event_log_received ON event_log (received_at, id);
