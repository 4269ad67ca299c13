-- The sandbox bank's own record: what the payer decided on its pay page (pay
-- or decline) and the amount it charged, one decision per payment. It is
-- written with the move to `submitted`, and the bank's callbacks are made
-- from it, so a node that dies before they are applied leaves nothing lost:
-- the bank sends the same callbacks (the same event ids) again until the
-- payment is final, as a real provider retries its notifications.
-- Additive only.
CREATE TABLE sandbox_bank_decisions (
    payment_id TEXT PRIMARY KEY REFERENCES payments (id),
    decision TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    decided_at BIGINT NOT NULL
);
