-- referent.registered carries each change of a référent's directory entry (its login
-- above all) in order: the version is its envelope sequence.
ALTER TABLE referents ADD COLUMN version integer NOT NULL DEFAULT 0;
