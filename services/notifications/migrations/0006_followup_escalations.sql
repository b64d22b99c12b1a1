-- Escalations say which deadline kind and situation they are about, so that a recorded
-- follow-up resolves the follow-up reminder of its situation (as an answer does for a
-- handover); recorded follow-ups are remembered for a reminder handled after them.
ALTER TABLE escalations ADD COLUMN situation_id uuid;
ALTER TABLE escalations ADD COLUMN kind text;
UPDATE escalations SET situation_id = (event -> 'data' ->> 'situation_id')::uuid,
                       kind = event -> 'data' ->> 'deadline_kind';
CREATE INDEX escalations_situation ON escalations (pre_id, situation_id)
    WHERE escalated_at IS NULL AND resolved_at IS NULL;

CREATE TABLE followups_recorded (
    pre_id       text NOT NULL,
    situation_id uuid NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pre_id, situation_id)
);
