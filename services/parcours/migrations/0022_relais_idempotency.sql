-- Idempotency-Keys move to the runtime's store (relais_runtime.idempotency, ADR 0020), as
-- referral's did: scope = PRE + caller (the token's subject) + route, a keyed fingerprint of
-- what was sent, pruned after PARCOURS_IDEMPOTENCY_RETENTION_DAYS.
--
-- Like the runtime's other relais_* tables (outbox, inbox, access log), it is not under
-- row-level security: the pruner deletes across PREs with the service's own role. Every
-- query names the PRE (relais_runtime.idempotency.claim), and a row holds no personal data
-- (an HMAC under a secret of the service, the id of what was created).
CREATE TABLE relais_idempotency (
    pre_id       text NOT NULL,
    caller       text NOT NULL,
    route        text NOT NULL,
    key          text NOT NULL,
    fingerprint  text NOT NULL,
    result_id    uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pre_id, caller, route, key)
);
CREATE INDEX relais_idempotency_created ON relais_idempotency (created_at);

-- The keys already claimed come over on their route (service.retries names the same). Their
-- body was never kept, so no fingerprint can match it: a retry of one of them is refused
-- (409 idempotency_key_reused) instead of creating the same thing twice, until the pruner
-- forgets the key with the others of its age.
INSERT INTO relais_idempotency (pre_id, caller, route, key, fingerprint, result_id, created_at)
SELECT pre_id, principal,
       CASE scope
           WHEN 'consent' THEN 'parcours.consents.create'
           WHEN 'objective' THEN 'parcours.plan.objectives.create'
           WHEN 'action' THEN 'parcours.plan.actions.create'
           WHEN 'handover' THEN 'parcours.handovers.create'
           WHEN 'review' THEN 'parcours.reviews.create'
           ELSE 'parcours.' || scope
       END,
       key, 'before-0022', result_id, created_at
FROM idempotency_keys;

DROP TABLE idempotency_keys;
