-- The last free texts about a child rest under its data key (issue 15, like 0017, 0021 and
-- 0023): the closure's reason in words, the consent's sole-guardian reason and witness, and
-- the family's request and the coordinator's answer. Deleting the key at erasure leaves them
-- unreadable, old row versions and backups included. The clear columns stay, for rows
-- written before this version until the scheduler moves them under the key and nulls them
-- (relais_parcours.service.child_texts.seal_clear_texts, re-runnable); nothing new is
-- written to them.
ALTER TABLE situations ADD COLUMN IF NOT EXISTS exit_reason_text_enc bytea;
ALTER TABLE consents
    ADD COLUMN IF NOT EXISTS sole_guardian_reason_enc bytea,
    ADD COLUMN IF NOT EXISTS witness_enc bytea;
ALTER TABLE family_requests
    ADD COLUMN IF NOT EXISTS details_enc bytea,
    ADD COLUMN IF NOT EXISTS answer_enc bytea;
