-- Retention (issue 15): a child whose referrals have all ended here (declined, withdrawn,
-- redirected, closed) is erased the PRE's period after the last of them moved; one still
-- received, under review or taken up is parcours's to erase (its subject.erased reaches
-- us). relais_runtime.retention reads this view; erased children (no fiche, no sealed
-- copy, no blind index left) leave it.
CREATE VIEW relais_retention_candidates AS
SELECT r.pre_id,
       'subject'::text AS record_type,
       r.subject_id::text AS record_id,
       max(GREATEST(r.submitted_at, r.updated_at)) AS last_contact_at
FROM referrals r
GROUP BY r.pre_id, r.subject_id
HAVING bool_and(r.status IN ('declined', 'withdrawn', 'redirected', 'closed'))
   AND (bool_or(r.sealed <> '' OR r.identity IS NOT NULL)
        OR EXISTS (SELECT 1 FROM subjects s
                    WHERE s.pre_id = r.pre_id AND s.subject_id = r.subject_id));
