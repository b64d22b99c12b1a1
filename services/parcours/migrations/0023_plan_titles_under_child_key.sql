-- The plan's titles (objectives, actions) are stored under the child's data key (issue 15,
-- like 0017 and 0021): deleting the key at erasure leaves them unreadable, old row
-- versions and backups included. The clear column stays, nullable now, for rows written
-- before this version until the scheduler moves them (relais_parcours.service.child_texts)
-- and for an erased child's placeholder; nothing new is written to it.
ALTER TABLE plan_objectives ALTER COLUMN title DROP NOT NULL, ADD COLUMN title_enc bytea;
ALTER TABLE plan_actions ALTER COLUMN title DROP NOT NULL, ADD COLUMN title_enc bytea;
