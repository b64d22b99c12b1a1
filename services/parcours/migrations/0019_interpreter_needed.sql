-- « interprète à prévoir » (issue 14): whether a guardian of a referral needs an
-- interpreter, read from the identity when parcours opens it, so the coordinators' inbox
-- and meetings can show it without opening any identity. A need, not an identity; NULL
-- until read (rows of before are read by the scheduler at start-up), cleared with the
-- identity at withdrawal and erasure.
ALTER TABLE situation_referrals ADD COLUMN interpreter_needed boolean;
