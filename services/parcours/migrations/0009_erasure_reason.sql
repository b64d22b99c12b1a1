-- Why a situation was erased: a referral that was already on its way when the child was
-- erased is dropped and erased in turn, under the same reason (see ADR 0006).
ALTER TABLE situations ADD COLUMN erasure_reason text;
