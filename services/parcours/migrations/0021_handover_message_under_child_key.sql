-- The référent's message to a partner is stored under the child's data key (issue 15, like
-- 0017): deleting the key at erasure leaves it unreadable, old row versions and backups
-- included. The clear column stays for rows written before this version until the
-- scheduler moves them (relais_parcours.service.child_texts); nothing new is written to it.
ALTER TABLE handovers ADD COLUMN message_enc bytea;
