import type { Instance } from './cluster.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One answer as the load saw it. */
export interface Answer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: the flow reads fields of the JSON body
  body: any;
}

/** What the simulated users met, by kind. */
export interface LoadFigures {
  users: number;
  admitted: number;
  reserved: number;
  paid201: number;
  paid202: number;
  paid402: number;
  paid409: number;
  replays: number;
  gaveUp: number;
  /** Told `soldOut` when joining or in line (the room admits no more): they stopped. */
  soldOutWhileWaiting: number;
  /** Responses by status over every request. */
  statuses: Record<string, number>;
  /** Requests that could not reach a process (it was killed): retried elsewhere. */
  connectionErrors: number;
  /**
   * Requests with no answer within {@link REQUEST_TIMEOUT_MS}: the app hung. Each as
   * `METHOD path (request id)`; the id (sent as X-Request-Id) finds its server log lines
   * ({@link requestLines}).
   */
  hangs: string[];
  /** 5xx answers other than 503, and 503s without problem+json or Retry-After. */
  badErrors: string[];
}

/** A request left without an answer this long counts as a hang (a bound, not a timing assertion). */
export const REQUEST_TIMEOUT_MS = 15_000;

/** Options of {@link runLoad}. */
export interface LoadOptions {
  users: number;
  inFlight: number;
  concertId: number;
  /** The instances to spread requests over (those with `alive` false are skipped). */
  instances: Instance[];
  /** Share of holders who pay. @defaultValue 0.7 */
  payShare?: number;
  /** Share of payers who send the same payment twice. @defaultValue 0.2 */
  replayShare?: number;
  /** How long a user keeps retrying through outages before giving up. @defaultValue 30_000 */
  patienceMs?: number;
}

/** A 503 that follows the HTTP contract: problem+json with Retry-After. */
export function isProper503(answer: Answer): boolean {
  return (
    answer.status === 503 &&
    /application\/problem\+json/.test(answer.headers.get('content-type') ?? '') &&
    Number(answer.headers.get('retry-after')) > 0
  );
}

/**
 * Simulated users over HTTP, spread over the live instances: log in, queue, poll until admitted,
 * reserve 1–2 AVAILABLE seats (other seats after a 409), pay or leave. Outages are retried: a 503
 * or a refused connection waits and tries again (another instance if there is one) until the
 * user's patience runs out. Every answer is counted; hangs and 5xx other than a proper 503 are
 * recorded as violations for the test to assert on.
 */
export async function runLoad(options: LoadOptions): Promise<LoadFigures> {
  const figures: LoadFigures = {
    users: options.users,
    admitted: 0,
    reserved: 0,
    paid201: 0,
    paid202: 0,
    paid402: 0,
    paid409: 0,
    replays: 0,
    gaveUp: 0,
    soldOutWhileWaiting: 0,
    statuses: {},
    connectionErrors: 0,
    hangs: [],
    badErrors: [],
  };
  const { concertId } = options;
  const payShare = options.payShare ?? 0.7;
  const replayShare = options.replayShare ?? 0.2;
  const patienceMs = options.patienceMs ?? 30_000;
  let turn = 0;
  let requests = 0;

  const pick = (): Instance | undefined => {
    const live = options.instances.filter((i) => i.alive);
    return live[turn++ % Math.max(1, live.length)];
  };

  /** One request; null when no process answered (killed, or no instance alive). */
  const once = async (
    method: string,
    path: string,
    token?: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer | null> => {
    const instance = pick();
    if (!instance) return null;
    const requestId = `load-${++requests}`;
    const h: Record<string, string> = { ...headers, 'x-request-id': requestId };
    if (token) h.authorization = `Bearer ${token}`;
    if (body !== undefined) h['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${instance.url}${path}`, {
        method,
        headers: h,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      if ((error as Error).name === 'TimeoutError') {
        figures.hangs.push(`${method} ${path} (${requestId} on ${instance.url})`);
      } else figures.connectionErrors++;
      return null;
    }
    const text = await res.text().catch(() => '');
    const type = res.headers.get('content-type') ?? '';
    let parsed: unknown = text;
    if (/json/.test(type) && text) parsed = JSON.parse(text);
    const answer: Answer = { status: res.status, headers: res.headers, body: parsed };
    figures.statuses[res.status] = (figures.statuses[res.status] ?? 0) + 1;
    if (res.status >= 500 && !isProper503(answer)) {
      figures.badErrors.push(`${method} ${path} → ${res.status} ${text.slice(0, 300)}`);
    }
    return answer;
  };

  /** `once`, retried through 503s and dead processes until the user's deadline. */
  const call = async (
    deadline: number,
    method: string,
    path: string,
    token?: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Answer | null> => {
    for (;;) {
      const answer = await once(method, path, token, body, headers);
      if (answer && answer.status !== 503) return answer;
      if (Date.now() > deadline) return null;
      await sleep(150 + Math.random() * 150);
    }
  };

  const user = async (i: number) => {
    const deadline = Date.now() + patienceMs;
    const giveUp = () => {
      figures.gaveUp++;
    };
    const login = await call(deadline, 'POST', '/auth/demo-login', undefined, {
      name: `fan${i}`,
    });
    if (login?.status !== 200) return giveUp();
    const token = login.body.token as string;
    let status = await call(deadline, 'POST', `/concerts/${concertId}/queue`, token);
    while (
      status?.status === 200 &&
      (status.body.state === 'waiting' || status.body.soldOut === true)
    ) {
      if (status.body.soldOut === true) {
        // As the page does: stop, send nothing (a join after the sell-out is not in line).
        figures.soldOutWhileWaiting++;
        return;
      }
      if (Date.now() > deadline) return giveUp();
      await sleep(Math.min(Number(status.body.pollAfterMs) || 100, 200));
      status = await call(deadline, 'GET', `/concerts/${concertId}/queue`, token);
      // Redis lost the room (restart without persistence): join again.
      if (status?.status === 200 && status.body.state === 'unknown') {
        status = await call(deadline, 'POST', `/concerts/${concertId}/queue`, token);
      }
    }
    if (status?.status !== 200 || status.body.state !== 'active') return giveUp();
    figures.admitted++;
    const entry = status.body.token as string;
    const leave = () => call(deadline, 'DELETE', `/concerts/${concertId}/queue`, token);

    let held: { id: string } | undefined;
    let paymentToken = '';
    let waits = 0;
    for (let attempt = 0; attempt < 30 && !held && Date.now() < deadline; attempt++) {
      const map = await call(deadline, 'GET', `/concerts/${concertId}`);
      if (map?.status !== 200) break;
      const seats = map.body.seats as { id: number; status: string }[];
      const free = seats.filter((s) => s.status === 'AVAILABLE');
      if (free.length === 0) {
        // Sold out, or every seat held: wait a little for holds to end, then give up.
        if (seats.every((s) => s.status === 'ASSIGNED') || ++waits > 4) break;
        await sleep(250);
        continue;
      }
      const want = Math.min(free.length, 1 + Math.floor(Math.random() * 2));
      const picked = new Set<number>();
      while (picked.size < want) {
        picked.add((free[Math.floor(Math.random() * free.length)] as { id: number }).id);
      }
      const res = await call(deadline, 'POST', `/concerts/${concertId}/reservations`, entry, {
        seatIds: [...picked],
      });
      if (res?.status === 201) {
        held = res.body.reservation;
        paymentToken = res.body.paymentToken;
      } else if (res?.status === 401) break; // slot lost (expired, or Redis forgot it)
    }
    if (!held) {
      await leave();
      return giveUp();
    }
    figures.reserved++;
    if (Math.random() >= payShare) {
      await leave();
      return;
    }
    const key = `"${crypto.randomUUID()}"`;
    const pay = () =>
      call(
        deadline,
        'POST',
        '/payments',
        paymentToken,
        { reservationId: held.id },
        {
          'idempotency-key': key,
        },
      );
    const first = await pay();
    if (first?.status === 201) figures.paid201++;
    else if (first?.status === 202) figures.paid202++;
    else if (first?.status === 402) figures.paid402++;
    else if (first?.status === 409) figures.paid409++;
    if (first && Math.random() < replayShare) {
      figures.replays++;
      await pay();
    }
    if (first?.status !== 201) await leave();
  };

  let next = 0;
  const worker = async () => {
    while (next < options.users) await user(next++);
  };
  await Promise.all(Array.from({ length: options.inFlight }, worker));
  return figures;
}

/**
 * The figures in one line each, for the scenario's printed block; with `instances`, each hang
 * (up to 3) follows with the server's log lines for it.
 */
export function describeLoad(f: LoadFigures, instances: readonly Instance[] = []): string[] {
  return [
    `users ${f.users}: admitted ${f.admitted}, reserved ${f.reserved}, gave up ${f.gaveUp}, told sold out while waiting ${f.soldOutWhileWaiting}`,
    `payments 201 ${f.paid201}, 202 ${f.paid202}, 402 ${f.paid402}, 409 ${f.paid409}; replays ${f.replays}`,
    `answers ${JSON.stringify(f.statuses)}; refused connections ${f.connectionErrors}; hangs ${f.hangs.length}; 5xx other than a proper 503: ${f.badErrors.length}`,
    ...describeHangs(instances, f),
  ];
}

/**
 * The server log lines of the request with id `requestId` (the `(load-N …)` of a hang or the
 * `requestId` of a problem body), shortened: what a test prints so a slow or failed request
 * explains itself.
 */
export function requestLines(
  instances: readonly Instance[],
  requestId: string,
  limit = 8,
): string[] {
  return instances
    .flatMap((i) => i.output().split('\n'))
    .filter((l) => l.includes(`"${requestId}"`))
    .slice(0, limit)
    .map((l) => {
      try {
        const e = JSON.parse(l) as {
          time?: number;
          msg?: string;
          responseTime?: number;
          err?: { type?: string; message?: string };
          res?: { statusCode?: number };
        };
        const err = e.err ? ` ${e.err.type}: ${(e.err.message ?? '').slice(0, 160)}` : '';
        const status = e.res?.statusCode ? ` → ${e.res.statusCode}` : '';
        const took = e.responseTime !== undefined ? ` after ${e.responseTime} ms` : '';
        return `${e.msg}${status}${took}${err}`;
      } catch {
        return l.slice(0, 200);
      }
    });
}

/** For each hang, its request and the server's log lines for it (none: the server never logged it). */
function describeHangs(instances: readonly Instance[], figures: LoadFigures): string[] {
  return figures.hangs.slice(0, 3).flatMap((hang) => {
    const id = /\((load-\d+)/.exec(hang)?.[1] ?? '';
    const lines = requestLines(instances, id);
    return [
      `hang: ${hang}`,
      ...(lines.length ? lines : ['(no server log line)']).map((l) => `  ${l}`),
    ];
  });
}
