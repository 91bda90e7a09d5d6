-- Core schema of the booking app. Money is integer cents; ids exposed to clients for things a
-- user creates (reservations, payments, orders) are UUIDs, catalogue ids are small integers.

CREATE TABLE users (
  id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE concerts (
  id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name        text NOT NULL,
  venue       text NOT NULL,
  starts_at   timestamptz NOT NULL,
  -- When the waiting room opens (the queue package uses it for its pre-queue).
  sales_open_at timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- A seat is the unit the seat-lock package locks. `fence` stores the highest fencing token that
-- wrote the row: a write carrying an older token is refused (UPDATE ... WHERE fence < $token).
CREATE TABLE seats (
  id             integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  concert_id     integer NOT NULL REFERENCES concerts (id) ON DELETE CASCADE,
  section        text NOT NULL,
  row_label      text NOT NULL,
  seat_number    integer NOT NULL CHECK (seat_number > 0),
  label          text NOT NULL,
  price_cents    integer NOT NULL CHECK (price_cents >= 0),
  status         text NOT NULL DEFAULT 'AVAILABLE'
                 CHECK (status IN ('AVAILABLE', 'HELD', 'ASSIGNED', 'BLOCKED')),
  reservation_id uuid,
  fence          bigint NOT NULL DEFAULT 0,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (concert_id, label),
  -- HELD and ASSIGNED seats belong to a reservation; AVAILABLE and BLOCKED ones never do.
  CHECK ((status IN ('HELD', 'ASSIGNED')) = (reservation_id IS NOT NULL))
);
CREATE INDEX seats_concert_status ON seats (concert_id, status);

CREATE TABLE reservations (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id       integer NOT NULL REFERENCES users (id),
  concert_id    integer NOT NULL REFERENCES concerts (id),
  status        text NOT NULL DEFAULT 'HELD'
                CHECK (status IN ('HELD', 'CONFIRMED', 'EXPIRED', 'CANCELLED')),
  -- The seat-lock hold behind this reservation and the fencing token it was placed with.
  hold_id       text,
  fence         bigint NOT NULL,
  amount_cents  integer NOT NULL CHECK (amount_cents >= 0),
  -- What the UI counts down to; the lock itself lives a grace period longer.
  expires_at    timestamptz NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reservations_user ON reservations (user_id, created_at);
CREATE INDEX reservations_held_expiry ON reservations (expires_at) WHERE status = 'HELD';

ALTER TABLE seats
  ADD CONSTRAINT seats_reservation_fk FOREIGN KEY (reservation_id) REFERENCES reservations (id);

CREATE TABLE reservation_seats (
  reservation_id uuid NOT NULL REFERENCES reservations (id) ON DELETE CASCADE,
  seat_id        integer NOT NULL REFERENCES seats (id),
  price_cents    integer NOT NULL CHECK (price_cents >= 0),
  PRIMARY KEY (reservation_id, seat_id)
);
CREATE INDEX reservation_seats_seat ON reservation_seats (seat_id);

-- The payment state machine of the notes: STARTED -> PG_REQUESTED -> SUCCEEDED | FAILED |
-- RETRY_SCHEDULED (-> PG_REQUESTED again). One row per (user, Idempotency-Key).
CREATE TABLE payments (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  reservation_id    uuid NOT NULL REFERENCES reservations (id),
  user_id           integer NOT NULL REFERENCES users (id),
  idempotency_key   text NOT NULL,
  amount_cents      integer NOT NULL CHECK (amount_cents >= 0),
  status            text NOT NULL DEFAULT 'STARTED'
                    CHECK (status IN ('STARTED', 'PG_REQUESTED', 'SUCCEEDED', 'FAILED', 'RETRY_SCHEDULED')),
  attempts          integer NOT NULL DEFAULT 0,
  gateway_charge_id text,
  failure_reason    text,
  next_retry_at     timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (user_id, idempotency_key)
);
-- At most one successful payment per reservation, whatever the keys.
CREATE UNIQUE INDEX payments_one_success ON payments (reservation_id) WHERE status = 'SUCCEEDED';

CREATE TABLE products (
  id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name         text NOT NULL,
  description  text NOT NULL DEFAULT '',
  price_cents  integer NOT NULL CHECK (price_cents >= 0),
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- Stock in its own narrow row: the hot row of a drop is updated by a conditional UPDATE
-- (available >= wanted), and the CHECK is the last line of defence against overselling.
CREATE TABLE product_stock (
  product_id  integer PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
  available   integer NOT NULL CHECK (available >= 0),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id          integer NOT NULL REFERENCES users (id),
  status           text NOT NULL DEFAULT 'PLACED' CHECK (status IN ('PLACED', 'CANCELLED')),
  total_cents      integer NOT NULL CHECK (total_cents >= 0),
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_created ON orders (created_at);

CREATE TABLE order_items (
  order_id          uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  product_id        integer NOT NULL REFERENCES products (id),
  quantity          integer NOT NULL CHECK (quantity > 0),
  unit_price_cents  integer NOT NULL CHECK (unit_price_cents >= 0),
  PRIMARY KEY (order_id, product_id)
);
CREATE INDEX order_items_product ON order_items (product_id);

-- Business event log (the notes: reservation success and failure rates, user behaviour).
CREATE TABLE business_events (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  occurred_at  timestamptz NOT NULL DEFAULT now(),
  type         text NOT NULL,
  outcome      text NOT NULL CHECK (outcome IN ('success', 'failure', 'info')),
  reason       text,
  user_id      integer REFERENCES users (id),
  subject      text,
  data         jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX business_events_type_time ON business_events (type, occurred_at);
