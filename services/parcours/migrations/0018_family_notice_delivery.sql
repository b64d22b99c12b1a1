-- Notices to the family are sent by parcours itself (issue 14): an e-mail notice is tried
-- by the scheduler (attempts, next try, why the last one failed) until sent or left to the
-- référent; post, SMS and phone notices stay for a person (a post notice has its letter).
ALTER TABLE family_notices
    ADD COLUMN attempts        integer NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at timestamptz,
    ADD COLUMN last_failure    text;
CREATE INDEX family_notices_to_mail ON family_notices (created_at)
    WHERE sent_at IS NULL AND channel = 'email';
