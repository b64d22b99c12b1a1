-- The login (identity provider subject) each référent signs in with, learnt from
-- referent.registered: what is addressed to a référent goes to that login (ADR 0008).
CREATE TABLE referent_logins (
    pre_id       text NOT NULL,
    referent_id  uuid NOT NULL,
    user_sub     text NOT NULL,
    version      integer NOT NULL,               -- referent.registered's sequence
    PRIMARY KEY (pre_id, referent_id)
);
