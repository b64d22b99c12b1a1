-- Partner directory in Open Referral HSDS 3 (ADR 0009). An organization's HSDS id is
-- stored: the one an HSDS import brought, else derived from the slug by the service;
-- partners already there get a random one once. Services, locations and contacts derive
-- theirs from it. Unique per PRE: two PREs may import the same département's directory.
ALTER TABLE partners ADD COLUMN hsds_id uuid;
UPDATE partners SET hsds_id = gen_random_uuid() WHERE hsds_id IS NULL;
ALTER TABLE partners ALTER COLUMN hsds_id SET NOT NULL;
CREATE UNIQUE INDEX partners_hsds_id ON partners (pre_id, hsds_id);

-- Who may read the PRE's directory through the HSDS API: its members (staff and
-- partners, the default) or anyone (a département's or a town's map).
CREATE TABLE directory_settings (
    pre_id      text PRIMARY KEY,
    hsds_read   text NOT NULL CHECK (hsds_read IN ('members', 'public')),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
