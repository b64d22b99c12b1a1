-- Per-child keys (issue 15): each child's fiches are encrypted under a data key of its
-- own, stored here wrapped by the PRE's newest store key (relais_runtime.vault). The
-- erasure deletes the row: every fiche of the child, old row versions and backups
-- included, is unreadable from then on.
CREATE TABLE subject_keys (
    pre_id       text NOT NULL,
    subject_id   uuid NOT NULL,
    wrapped_key  bytea NOT NULL,     -- AES-256 data key, AES-GCM under the store key
    master_kid   text NOT NULL,      -- the store key that wrapped it (rotation)
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pre_id, subject_id)
);
CREATE INDEX subject_keys_master ON subject_keys (pre_id, master_kid);

-- The fiche under the child's key; ``identity`` (a JWE under the PRE's store key) is
-- only read until the start-up job has moved every row into ``fiche``.
ALTER TABLE referrals ADD COLUMN fiche bytea;
CREATE INDEX referrals_identity_to_move ON referrals (id) WHERE identity IS NOT NULL;

-- The copy sealed to the PRE's public key was never read here, and parcours (which holds
-- the private key) could open it for ever: it is no longer kept (ADR 0017). The event
-- still carries it to parcours.
DROP VIEW relais_retention_candidates;
ALTER TABLE referrals DROP COLUMN sealed;

CREATE VIEW relais_retention_candidates AS
SELECT r.pre_id,
       'subject'::text AS record_type,
       r.subject_id::text AS record_id,
       max(GREATEST(r.submitted_at, r.updated_at)) AS last_contact_at
FROM referrals r
GROUP BY r.pre_id, r.subject_id
HAVING bool_and(r.status IN ('declined', 'withdrawn', 'redirected', 'closed'))
   AND (bool_or(r.fiche IS NOT NULL OR r.identity IS NOT NULL)
        OR EXISTS (SELECT 1 FROM subjects s
                    WHERE s.pre_id = r.pre_id AND s.subject_id = r.subject_id)
        OR EXISTS (SELECT 1 FROM subject_keys k
                    WHERE k.pre_id = r.pre_id AND k.subject_id = r.subject_id));
