-- Daily digests: deliveries held for a digest are gathered into one e-mail delivery.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('pending', 'sending', 'delivered', 'failed', 'digested', 'in_digest'));
ALTER TABLE deliveries ADD COLUMN digest_id uuid;
CREATE INDEX deliveries_digested ON deliveries (created_at) WHERE status = 'digested';

-- Handovers the partner answered: an overdue reminder handled after the answer (events may
-- be handled out of order) must not escalate.
CREATE TABLE handover_answers (
    pre_id      text NOT NULL,
    handover_id uuid NOT NULL,
    answered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pre_id, handover_id)
);
