-- Idempotency keys move to the runtime's store (relais_runtime.idempotency), shared by
-- every service: scope = PRE + caller (the institution) + route. The keys already claimed
-- are carried over (same keyed fingerprint), so a retry across the upgrade still replays.
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

INSERT INTO relais_idempotency (pre_id, caller, route, key, fingerprint, result_id, created_at)
SELECT pre_id, institution_id, 'referrals.submit', key, fingerprint, referral_id, created_at
FROM idempotency_keys;

DROP TABLE idempotency_keys;
