-- Crypto-erasure of what the team writes about a child (issue 15): the review note and the
-- caseload override reason are stored encrypted with the child's data key (subject_keys),
-- so deleting the key at erasure leaves nothing readable, backups included. The clear
-- columns stay for rows written before this version until the scheduler moves them
-- (relais_parcours.service.child_texts); nothing new is written to them.
ALTER TABLE review_decisions ADD COLUMN note_enc bytea;
ALTER TABLE referent_assignments ADD COLUMN override_reason_enc bytea;
