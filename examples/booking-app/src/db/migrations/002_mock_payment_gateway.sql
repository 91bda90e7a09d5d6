-- Ledger of the mock payment gateway (src/payments). It stands for the PSP's own database, not
-- the app's: the app never joins it, and it is what proves "charged exactly once" in tests.
CREATE TABLE mock_pg_charges (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- The merchant's idempotency key: one charge per key, whatever happens on the wire.
  idempotency_key  text NOT NULL UNIQUE,
  amount_cents     integer NOT NULL CHECK (amount_cents >= 0),
  currency         text NOT NULL,
  reference        text,
  status           text NOT NULL CHECK (status IN ('CAPTURED', 'DECLINED')),
  decline_reason   text,
  created_at       timestamptz NOT NULL DEFAULT now()
);
