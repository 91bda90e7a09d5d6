import { describe, expect, it } from 'vitest';
import { MockPaymentGateway } from '../src/concerts/payments/mock-payment-gateway.js';
import {
  PaymentDeclinedError,
  PaymentGatewayTimeoutError,
  PaymentKeyReuseError,
} from '../src/errors.js';
import { count, dbBackends, useDatabase } from './helpers.js';

/** A random source that returns `values` in order (then repeats the last). */
function scripted(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)] as number;
}

describe.each(dbBackends)('MockPaymentGateway on $name', (backend) => {
  const fixture = useDatabase(backend);
  const fast = { latencyMs: 0, timeoutMs: 5 };

  it('captures a charge and records it in its ledger', async () => {
    const gateway = new MockPaymentGateway(fixture.db, fast);
    const charge = await gateway.charge({ idempotencyKey: 'k1', amount: 15_000, reference: 'r:1' });
    expect(charge).toMatchObject({
      amount: 15_000,
      currency: 'USD',
      status: 'CAPTURED',
      replayed: false,
    });
    const entry = await gateway.find('k1');
    expect(entry).toMatchObject({ id: charge.id, status: 'CAPTURED', amount: 15_000 });
    expect(await gateway.capturedFor('r:1')).toHaveLength(1);
  });

  it('charges a new key in one statement; a replay costs the insert and one read', async () => {
    const statements: string[] = [];
    const counted = {
      query: (sql: string, params?: unknown[]) => {
        statements.push(sql.trim().split(/\s+/)[0] as string);
        return fixture.db.query(sql, params);
      },
    } as typeof fixture.db;
    const gateway = new MockPaymentGateway(counted, fast);
    await gateway.charge({ idempotencyKey: 'k1s', amount: 700, reference: 'r:1s' });
    expect(statements).toEqual(['INSERT']);
    statements.length = 0;
    const again = await gateway.charge({ idempotencyKey: 'k1s', amount: 700, reference: 'r:1s' });
    expect(again.replayed).toBe(true);
    expect(statements).toEqual(['INSERT', 'SELECT']);
  });

  it('replays a success for the same key without charging again', async () => {
    const gateway = new MockPaymentGateway(fixture.db, fast);
    const first = await gateway.charge({ idempotencyKey: 'k2', amount: 500, reference: 'r:2' });
    const again = await gateway.charge({ idempotencyKey: 'k2', amount: 500, reference: 'r:2' });
    expect(again).toMatchObject({ id: first.id, replayed: true });
    expect(await count(fixture.db, 'SELECT count(*) FROM mock_pg_charges')).toBe(1);
  });

  it('timed out but actually charged: the retry with the same key finds the charge, no second one', async () => {
    // draw 0 < timeoutRate → timeout; draw 0 < chargedOnTimeoutRate → the charge went through.
    const gateway = new MockPaymentGateway(fixture.db, {
      ...fast,
      timeoutRate: 0.5,
      chargedOnTimeoutRate: 1,
      random: scripted(0, 0, 0.99),
    });
    const request = { idempotencyKey: 'k3', amount: 9_000, reference: 'reservation:3' };
    const timeout = await gateway.charge(request).catch((e: unknown) => e);
    expect(timeout).toBeInstanceOf(PaymentGatewayTimeoutError);
    expect((timeout as PaymentGatewayTimeoutError).idempotencyKey).toBe('k3');
    expect(await gateway.capturedFor('reservation:3')).toHaveLength(1);

    const retry = await gateway.charge(request);
    expect(retry.replayed).toBe(true);
    expect(await gateway.capturedFor('reservation:3')).toHaveLength(1);
  });

  it('timed out without charging: the retry is a fresh attempt that charges once', async () => {
    const gateway = new MockPaymentGateway(fixture.db, {
      ...fast,
      timeoutRate: 0.5,
      chargedOnTimeoutRate: 0.5,
      random: scripted(0.1, 0.9, 0.9),
    });
    const request = { idempotencyKey: 'k4', amount: 100, reference: 'reservation:4' };
    await expect(gateway.charge(request)).rejects.toBeInstanceOf(PaymentGatewayTimeoutError);
    expect(await gateway.find('k4')).toBeNull();
    const retry = await gateway.charge(request);
    expect(retry.replayed).toBe(false);
    expect(await gateway.capturedFor('reservation:4')).toHaveLength(1);
  });

  it('declines, and replays the same decline for the same key', async () => {
    const gateway = new MockPaymentGateway(fixture.db, {
      ...fast,
      failureRate: 1,
    });
    const request = { idempotencyKey: 'k5', amount: 100 };
    const first = await gateway.charge(request).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(PaymentDeclinedError);
    expect((first as PaymentDeclinedError).replayed).toBe(false);
    const second = await gateway.charge(request).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(PaymentDeclinedError);
    expect((second as PaymentDeclinedError).replayed).toBe(true);
    expect(
      await count(fixture.db, "SELECT count(*) FROM mock_pg_charges WHERE status = 'CAPTURED'"),
    ).toBe(0);
  });

  it('refuses a key reused with a different amount or reference', async () => {
    const gateway = new MockPaymentGateway(fixture.db, fast);
    await gateway.charge({ idempotencyKey: 'k6', amount: 100, reference: 'a' });
    const amount = await gateway
      .charge({ idempotencyKey: 'k6', amount: 101, reference: 'a' })
      .catch((e: unknown) => e);
    expect(amount).toBeInstanceOf(PaymentKeyReuseError);
    expect((amount as PaymentKeyReuseError).field).toBe('amount');
    const reference = await gateway
      .charge({ idempotencyKey: 'k6', amount: 100, reference: 'b' })
      .catch((e: unknown) => e);
    expect((reference as PaymentKeyReuseError).field).toBe('reference');
    expect(await count(fixture.db, 'SELECT count(*) FROM mock_pg_charges')).toBe(1);
  });

  it('charges once when 20 requests with one key race', async () => {
    const gateway = new MockPaymentGateway(fixture.db, { ...fast, latencyMs: 1 });
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        gateway.charge({ idempotencyKey: 'race', amount: 700, reference: 'reservation:race' }),
      ),
    );
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(await gateway.capturedFor('reservation:race')).toHaveLength(1);
  });

  it('with random outcomes, retrying every payment with its key charges each exactly once', async () => {
    const gateway = new MockPaymentGateway(fixture.db, {
      ...fast,
      timeoutRate: 0.4,
      failureRate: 0.1,
      chargedOnTimeoutRate: 0.5,
    });
    const outcomes = { captured: 0, declined: 0 };
    for (let p = 0; p < 30; p++) {
      const request = {
        idempotencyKey: `pay-${p}`,
        amount: 1000 + p,
        reference: `reservation:${p}`,
      };
      for (let attempt = 0; ; attempt++) {
        try {
          await gateway.charge(request);
          outcomes.captured++;
          break;
        } catch (error) {
          if (error instanceof PaymentDeclinedError) {
            outcomes.declined++;
            break;
          }
          expect(error).toBeInstanceOf(PaymentGatewayTimeoutError);
          expect(attempt).toBeLessThan(200);
        }
      }
      expect((await gateway.capturedFor(request.reference)).length).toBeLessThanOrEqual(1);
    }
    expect(outcomes.captured + outcomes.declined).toBe(30);
    expect(
      await count(fixture.db, "SELECT count(*) FROM mock_pg_charges WHERE status = 'CAPTURED'"),
    ).toBe(outcomes.captured);
  });
});

describe('MockPaymentGateway input validation', () => {
  const db = { query: async () => ({ rows: [], rowCount: 0 }) };

  it('rejects bad options with a message naming the option', () => {
    expect(() => new MockPaymentGateway(db, { failureRate: 1.5 })).toThrow(
      /failureRate must be in \[0, 1\]/,
    );
    expect(() => new MockPaymentGateway(db, { failureRate: 0.6, timeoutRate: 0.6 })).toThrow(
      /failureRate \+ timeoutRate/,
    );
    expect(() => new MockPaymentGateway(db, { latencyMs: -1 })).toThrow(RangeError);
    expect(() => new MockPaymentGateway(db, { latencyMs: 1.5 })).toThrow(TypeError);
    expect(() => new MockPaymentGateway(db, { latncyMs: 5 } as never)).toThrow(
      /unknown option 'latncyMs'/,
    );
  });

  it('rejects bad charge requests before touching the ledger', async () => {
    let touched = 0;
    const spy = {
      query: async () => {
        touched++;
        return { rows: [], rowCount: 0 };
      },
    };
    const gateway = new MockPaymentGateway(spy, { latencyMs: 0 });
    await expect(gateway.charge({ idempotencyKey: '', amount: 1 })).rejects.toThrow(
      /idempotencyKey must not be empty/,
    );
    await expect(gateway.charge({ idempotencyKey: 'k'.repeat(256), amount: 1 })).rejects.toThrow(
      RangeError,
    );
    await expect(gateway.charge({ idempotencyKey: 'a\nb', amount: 1 })).rejects.toThrow(
      /printable/,
    );
    await expect(gateway.charge({ idempotencyKey: 'k', amount: -1 })).rejects.toThrow(RangeError);
    await expect(gateway.charge({ idempotencyKey: 'k', amount: 1.5 })).rejects.toThrow(TypeError);
    await expect(
      gateway.charge({ idempotencyKey: 'k', amount: 1, currency: 'usd' }),
    ).rejects.toThrow(/currency/);
    expect(touched).toBe(0);
  });
});
