-- The team's reasoning behind a decision, in its words (stays in parcours, never on the wire).
ALTER TABLE review_decisions ADD COLUMN note text;
