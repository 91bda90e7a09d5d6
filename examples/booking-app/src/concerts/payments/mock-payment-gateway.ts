import { check, sleep } from '@boxoffice/internal';
import type { Queryable } from '../../db/database.js';
import {
  PaymentDeclinedError,
  PaymentGatewayTimeoutError,
  PaymentKeyReuseError,
} from '../../errors.js';

/** Options of {@link MockPaymentGateway}. Rates are probabilities in [0, 1]. */
export interface MockPaymentGatewayOptions {
  /** Time the gateway takes to answer. @defaultValue 50 */
  latencyMs?: number;
  /** Time a call that times out takes before it throws {@link PaymentGatewayTimeoutError}. @defaultValue 3000 */
  timeoutMs?: number;
  /** Share of new charges that are declined. @defaultValue 0 */
  failureRate?: number;
  /** Share of new charges that time out (`failureRate + timeoutRate` ≤ 1). @defaultValue 0 */
  timeoutRate?: number;
  /**
   * Share of timeouts where the card *was* charged — the gateway processed it, the answer was lost.
   * A retry with the same key then finds that charge instead of making a second one. @defaultValue 0.5
   */
  chargedOnTimeoutRate?: number;
  /** Random source in [0, 1), injectable so tests choose outcomes. @defaultValue Math.random */
  random?: () => number;
}

const DEFAULTS: Readonly<Required<MockPaymentGatewayOptions>> = Object.freeze({
  latencyMs: 50,
  timeoutMs: 3000,
  failureRate: 0,
  timeoutRate: 0,
  chargedOnTimeoutRate: 0.5,
  random: Math.random,
});

/** What to charge. Amounts are integer minor units (cents). */
export interface ChargeRequest {
  /** The merchant's key: every retry of one payment must send the same key. 1–255 printable chars. */
  idempotencyKey: string;
  amount: number;
  /** ISO 4217, upper case. @defaultValue 'USD' */
  currency?: string;
  /** Free text for the merchant (e.g. `reservation:<id>`), up to 255 bytes. */
  reference?: string;
  /** Stops waiting for the answer (the charge may still happen, as with a real gateway). */
  signal?: AbortSignal;
}

/** A captured charge. */
export interface Charge {
  id: string;
  idempotencyKey: string;
  amount: number;
  currency: string;
  reference: string | null;
  status: 'CAPTURED';
  createdAt: Date;
  /** True when an earlier request with this key already captured it (nothing new was charged). */
  replayed: boolean;
}

/** What the gateway's ledger holds for one key (the PSP's "retrieve by idempotency key" API). */
export interface LedgerEntry {
  id: string;
  idempotencyKey: string;
  amount: number;
  currency: string;
  reference: string | null;
  status: 'CAPTURED' | 'DECLINED';
  declineReason: string | null;
  createdAt: Date;
}

interface LedgerRow {
  id: string;
  idempotency_key: string;
  amount_cents: number;
  currency: string;
  reference: string | null;
  status: 'CAPTURED' | 'DECLINED';
  decline_reason: string | null;
  created_at: Date;
}

const toEntry = (r: LedgerRow): LedgerEntry => ({
  id: r.id,
  idempotencyKey: r.idempotency_key,
  amount: r.amount_cents,
  currency: r.currency,
  reference: r.reference,
  status: r.status,
  declineReason: r.decline_reason,
  createdAt: r.created_at,
});

const COLUMNS =
  'id, idempotency_key, amount_cents, currency, reference, status, decline_reason, created_at';

function rate(name: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${name} must be a number, got ${check.show(value)}`);
  }
  if (value < 0 || value > 1) throw new RangeError(`${name} must be in [0, 1], got ${value}`);
  return value;
}

/**
 * A stand-in for a card payment gateway (PSP), with the failure modes that make payments hard:
 * latency, declines, timeouts, and timeouts after which the card was charged anyway. Like Stripe
 * or Toss Payments it is idempotent per key: its own ledger table (`mock_pg_charges`, one row per
 * key, UNIQUE) makes every retry with the same key return the first outcome — a retry after a
 * hidden success gets that success back and charges nothing more; a retry after a decline gets
 * the same decline. Timeouts that did not charge leave no row, so a retry is a fresh attempt.
 */
export class MockPaymentGateway {
  /** The validated options in force. */
  readonly options: Readonly<Required<MockPaymentGatewayOptions>>;

  constructor(
    private readonly db: Queryable,
    options: MockPaymentGatewayOptions = {},
  ) {
    const o = check.mergeOptions('MockPaymentGateway options', DEFAULTS, options);
    check.integer('latencyMs', o.latencyMs, { max: 600_000 });
    check.integer('timeoutMs', o.timeoutMs, { max: 600_000 });
    rate('failureRate', o.failureRate);
    rate('timeoutRate', o.timeoutRate);
    rate('chargedOnTimeoutRate', o.chargedOnTimeoutRate);
    if (o.failureRate + o.timeoutRate > 1) {
      throw new RangeError(
        `failureRate + timeoutRate must be <= 1, got ${o.failureRate + o.timeoutRate}`,
      );
    }
    check.func('random', o.random);
    this.options = o;
  }

  /**
   * Charge `amount` once per `idempotencyKey`.
   * @returns the captured charge (`replayed: true` when an earlier call with this key charged it).
   * @throws PaymentDeclinedError (also on a retry of a declined key); PaymentGatewayTimeoutError
   * (outcome unknown: retry with the same key); PaymentKeyReuseError when the key was used with a
   * different amount, currency or reference; TypeError/RangeError for invalid input.
   */
  async charge(request: ChargeRequest): Promise<Charge> {
    const key = check.text('idempotencyKey', request?.idempotencyKey, {
      maxBytes: 255,
      printable: true,
    });
    const amount = check.integer('amount', request.amount, { max: 2_147_483_647 });
    const currency = request.currency ?? 'USD';
    if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) {
      throw new RangeError(`currency must be 3 upper-case letters, got ${check.show(currency)}`);
    }
    const reference =
      request.reference === undefined
        ? null
        : check.text('reference', request.reference, { maxBytes: 255, printable: true });
    const signal = check.optionalSignal('signal', request.signal);
    const wanted = { amount, currency, reference };

    // A new key costs one statement (the insert); a key seen before is found when the insert
    // finds it taken. Only a timeout, which may write nothing, looks for the key first.
    const draw = this.options.random();
    if (draw < this.options.timeoutRate) {
      const existing = await this.find(key);
      if (existing) {
        await sleep(this.options.latencyMs, signal);
        return this.replay(existing, wanted);
      }
      if (this.options.random() < this.options.chargedOnTimeoutRate) {
        // Processed, but the answer never reaches the merchant.
        await this.insert(key, wanted, 'CAPTURED', null);
      }
      await sleep(this.options.timeoutMs, signal);
      throw new PaymentGatewayTimeoutError(key, this.options.timeoutMs);
    }
    const declined = draw < this.options.timeoutRate + this.options.failureRate;
    const inserted = await this.insert(
      key,
      wanted,
      declined ? 'DECLINED' : 'CAPTURED',
      declined ? 'card_declined' : null,
    );
    await sleep(this.options.latencyMs, signal);
    if (!inserted) {
      // An earlier or concurrent request with the same key decided: answer what it decided.
      return this.replay((await this.find(key)) as LedgerEntry, wanted);
    }
    if (inserted.status === 'DECLINED') {
      throw new PaymentDeclinedError(key, inserted.declineReason ?? 'card_declined', false);
    }
    return { ...this.toCharge(inserted), replayed: false };
  }

  /** The ledger entry for `idempotencyKey`, or null when the gateway never processed it. */
  async find(idempotencyKey: string): Promise<LedgerEntry | null> {
    const { rows } = await this.db.query<LedgerRow>(
      `SELECT ${COLUMNS} FROM mock_pg_charges WHERE idempotency_key = $1`,
      [idempotencyKey],
    );
    return rows[0] ? toEntry(rows[0]) : null;
  }

  /** Captured charges whose reference is `reference` (a test or audit asks "charged exactly once?"). */
  async capturedFor(reference: string): Promise<LedgerEntry[]> {
    const { rows } = await this.db.query<LedgerRow>(
      `SELECT ${COLUMNS} FROM mock_pg_charges WHERE reference = $1 AND status = 'CAPTURED'
       ORDER BY created_at`,
      [reference],
    );
    return rows.map(toEntry);
  }

  private async insert(
    key: string,
    wanted: { amount: number; currency: string; reference: string | null },
    status: 'CAPTURED' | 'DECLINED',
    declineReason: string | null,
  ): Promise<LedgerEntry | null> {
    const { rows } = await this.db.query<LedgerRow>(
      `INSERT INTO mock_pg_charges (idempotency_key, amount_cents, currency, reference, status, decline_reason)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING ${COLUMNS}`,
      [key, wanted.amount, wanted.currency, wanted.reference, status, declineReason],
    );
    return rows[0] ? toEntry(rows[0]) : null;
  }

  private replay(
    entry: LedgerEntry,
    wanted: { amount: number; currency: string; reference: string | null },
  ): Charge {
    for (const field of ['amount', 'currency', 'reference'] as const) {
      if (entry[field] !== wanted[field]) {
        throw new PaymentKeyReuseError(entry.idempotencyKey, field);
      }
    }
    if (entry.status === 'DECLINED') {
      throw new PaymentDeclinedError(
        entry.idempotencyKey,
        entry.declineReason ?? 'card_declined',
        true,
      );
    }
    return { ...this.toCharge(entry), replayed: true };
  }

  private toCharge(entry: LedgerEntry): Omit<Charge, 'replayed'> {
    return {
      id: entry.id,
      idempotencyKey: entry.idempotencyKey,
      amount: entry.amount,
      currency: entry.currency,
      reference: entry.reference,
      status: 'CAPTURED',
      createdAt: entry.createdAt,
    };
  }
}
