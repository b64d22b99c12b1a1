-- Retention (issue 15): each situation's last contact with the family, and what the
-- retention job may erase (relais_runtime.retention reads relais_retention_candidates).
-- The last contact is the latest event that involved the family: a referral received or
-- withdrawn, the review's decision, a consent given or ended, the plan or a handover
-- moving, the closure, the follow-up, the family's own use of its space or requests.
CREATE VIEW situation_last_contact AS
SELECT s.id AS situation_id, s.pre_id, s.subject_id,
       GREATEST(
           s.opened_at,
           s.closed_at,
           (SELECT max(GREATEST(r.received_at, r.withdrawn_at))
              FROM situation_referrals r WHERE r.situation_id = s.id),
           (SELECT max(d.decided_at) FROM review_decisions d WHERE d.situation_id = s.id),
           (SELECT max(GREATEST(c.given_at, c.ended_at)) FROM consents c
             WHERE c.situation_id = s.id),
           (SELECT max(o.updated_at) FROM plan_objectives o WHERE o.situation_id = s.id),
           (SELECT max(a.updated_at) FROM plan_actions a WHERE a.situation_id = s.id),
           (SELECT max(GREATEST(h.requested_at, h.responded_at, h.ended_at)) FROM handovers h
             WHERE h.situation_id = s.id),
           (SELECT max(f.recorded_at) FROM followups f WHERE f.situation_id = s.id),
           (SELECT max(l.used_at) FROM family_letters l WHERE l.situation_id = s.id),
           (SELECT max(GREATEST(q.made_at, q.answered_at)) FROM family_requests q
             WHERE q.situation_id = s.id)
       ) AS last_contact_at
FROM situations s
WHERE s.erased_at IS NULL;

-- One row per child (an erasure takes every situation of the child, ADR 0006): its latest
-- situation, due after the last contact of all of them.
CREATE VIEW relais_retention_candidates AS
SELECT DISTINCT ON (pre_id, subject_id)
       pre_id,
       'situation'::text AS record_type,
       situation_id::text AS record_id,
       max(last_contact_at) OVER (PARTITION BY pre_id, subject_id) AS last_contact_at
FROM situation_last_contact
ORDER BY pre_id, subject_id, last_contact_at DESC;
