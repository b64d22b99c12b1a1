-- The access log: who read or changed which personal data, when and why (never the values).
-- One hash chain per PRE: line n stores sha256(hash of line n-1 || canonical line n);
-- relais_access_log_heads holds the last (seq, hash) of each chain and is updated in the
-- same transaction as the line, under its row lock, so writers of one PRE serialise and a
-- removed last line is seen too. See relais_runtime.audit.

CREATE TABLE relais_access_log (
    pre_id        text        NOT NULL,
    seq           bigint      NOT NULL,
    at            timestamptz NOT NULL,
    actor_sub     text        NOT NULL,
    actor_org     text        NOT NULL,
    actor_role    text        NOT NULL,
    action        text        NOT NULL CHECK (action IN ('read', 'change', 'export', 'erase')),
    record_type   text        NOT NULL,
    record_id     text        NOT NULL,
    situation_id  uuid,
    field_groups  text[]      NOT NULL,
    purpose       text        NOT NULL,
    prev_hash     bytea       NOT NULL,
    hash          bytea       NOT NULL,
    PRIMARY KEY (pre_id, seq)
);
CREATE INDEX relais_access_log_situation ON relais_access_log (situation_id, at)
    WHERE situation_id IS NOT NULL;
CREATE INDEX relais_access_log_at ON relais_access_log (pre_id, at);

CREATE TABLE relais_access_log_heads (
    pre_id text   PRIMARY KEY,
    seq    bigint NOT NULL,
    hash   bytea  NOT NULL
);

-- Append-only for the services' own role: no UPDATE, DELETE or TRUNCATE of a line. (A
-- superuser can drop the trigger; the chain then shows what was done: relais audit verify.)
CREATE FUNCTION relais_access_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'relais_access_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER relais_access_log_no_update_delete
    BEFORE UPDATE OR DELETE ON relais_access_log
    FOR EACH ROW EXECUTE FUNCTION relais_access_log_append_only();
CREATE TRIGGER relais_access_log_no_truncate
    BEFORE TRUNCATE ON relais_access_log
    FOR EACH STATEMENT EXECUTE FUNCTION relais_access_log_append_only();
