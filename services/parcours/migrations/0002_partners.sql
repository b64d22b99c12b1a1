-- Partner directory (the organisations a référent hands actions over to). Shaped after
-- Open Referral HSDS 3 "organization"; services, locations and contacts come next.
CREATE TABLE partners (
    id          text PRIMARY KEY,              -- slug, also the partner token's org claim
    pre_id      text NOT NULL,
    name        text NOT NULL,
    category    text NOT NULL,                 -- PartnerCategory
    description text,
    website     text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX partners_pre ON partners (pre_id, category);
