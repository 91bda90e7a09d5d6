import { expect } from 'vitest';
import { call, waitFor } from '../helpers.js';
import { REQUEST_TIMEOUT_MS } from './load.js';

/** A user admitted to a concert's room, holding one seat: the tokens a probe needs. */
export interface Prober {
  token: string;
  entry: string;
  paymentToken: string;
  reservationId: string;
  seatId: number;
}

/** Log in, join the room through `base` and wait to be admitted. */
export async function admit(
  base: string,
  concertId: number,
  name: string,
): Promise<{ token: string; entry: string }> {
  const login = await call(base, 'POST', '/auth/demo-login', { body: { name } });
  expect(login.status).toBe(200);
  const token = login.body.token as string;
  expect((await call(base, 'POST', `/concerts/${concertId}/queue`, { token })).status).toBe(200);
  const active = await waitFor(
    async () => (await call(base, 'GET', `/concerts/${concertId}/queue`, { token })).body,
    (s) => s.state === 'active',
  );
  return { token, entry: active.token };
}

/** Hold `seatId` through `base` with an admitted user's tokens; null when the seat was taken. */
export async function hold(
  base: string,
  concertId: number,
  user: { token: string; entry: string },
  seatId: number,
): Promise<Prober | null> {
  const held = await call(base, 'POST', `/concerts/${concertId}/reservations`, {
    token: user.entry,
    body: { seatIds: [seatId] },
  });
  if (held.status === 409 || held.status === 400) return null;
  expect(held.status).toBe(201);
  return {
    ...user,
    paymentToken: held.body.paymentToken,
    reservationId: held.body.reservation.id,
    seatId,
  };
}

/** One probe's answer: status, whether it is problem+json, its Retry-After and code. */
export interface ProbeAnswer {
  route: string;
  status: number | 'no-answer';
  problem: boolean;
  retryAfter: string | null;
  code: string | undefined;
}

/** Send `init` to `base + path` and describe the answer (a hang becomes `no-answer`). */
export async function probe(
  base: string,
  route: string,
  path: string,
  init: { method: string; token?: string; body?: unknown; headers?: Record<string, string> },
): Promise<ProbeAnswer> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  try {
    const res = await fetch(`${base}${path}`, {
      method: init.method,
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    const problem = /application\/problem\+json/.test(type);
    return {
      route,
      status: res.status,
      problem,
      retryAfter: res.headers.get('retry-after'),
      code: problem ? (JSON.parse(text) as { code?: string }).code : undefined,
    };
  } catch {
    return { route, status: 'no-answer', problem: false, retryAfter: null, code: undefined };
  }
}

/**
 * Every Redis-backed route of the booking flow, probed with `p`'s tokens (demo login only uses
 * Redis for its rate limit, which the chaos runs turn off).
 */
export function probeRedisRoutes(base: string, concertId: number, p: Prober) {
  return Promise.all([
    probe(base, 'POST queue', `/concerts/${concertId}/queue`, { method: 'POST', token: p.token }),
    probe(base, 'GET queue', `/concerts/${concertId}/queue`, { method: 'GET', token: p.token }),
    probe(base, 'POST reservations', `/concerts/${concertId}/reservations`, {
      method: 'POST',
      token: p.entry,
      body: { seatIds: [p.seatId] }, // HELD passes the SQL check; placing the hold needs Redis
    }),
    probe(base, 'POST payments', '/payments', {
      method: 'POST',
      token: p.paymentToken,
      body: { reservationId: p.reservationId },
      headers: { 'idempotency-key': `"probe-${crypto.randomUUID()}"` },
    }),
    probe(base, 'GET readyz', '/readyz', { method: 'GET' }),
  ]);
}
