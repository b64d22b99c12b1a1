-- A child referred again after the PRE declined, redirected or closed its situation gets a
-- new situation and a new review, linked to the one before it (ADR 0006). At most one
-- situation per child is still open (awaiting review, withdrawn before it, or in parcours).
ALTER TABLE situations DROP CONSTRAINT situations_pre_id_subject_id_key;
ALTER TABLE situations ADD COLUMN previous_situation_id uuid REFERENCES situations (id);
CREATE UNIQUE INDEX situations_one_open_per_subject ON situations (pre_id, subject_id)
    WHERE stage IN ('awaiting_review', 'withdrawn', 'in_parcours');
CREATE INDEX situations_subject ON situations (pre_id, subject_id, opened_at);
