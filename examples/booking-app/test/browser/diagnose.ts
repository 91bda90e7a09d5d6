import type { RedisClient } from '@boxoffice/internal';
import type { BrowserContext, Page } from 'playwright-core';

/**
 * Recorded in every page of a context: each EventSource's opening, errors (with its readyState:
 * 2 = closed for good) and named events, as `window.__sse`. Runs before the page's own scripts
 * (an init script is not subject to the page's CSP).
 */
const RECORD_SSE = `(() => {
  const log = (window.__sse = []);
  const push = (entry) => {
    log.push({ at: new Date().toISOString().slice(11, 23), ...entry });
    if (log.length > 40) log.shift();
  };
  const Native = window.EventSource;
  window.EventSource = class extends Native {
    constructor(url, init) {
      super(url, init);
      push({ type: 'new', url: String(url).replace(/access_token=[^&]+/, 'access_token=…') });
      this.addEventListener('open', () => push({ type: 'open' }));
      this.addEventListener('error', () => push({ type: 'error', readyState: this.readyState }));
      for (const type of ['status', 'admitted', 'position', 'evicted', 'soldout']) {
        // Tokens are left out of the record (it may end up in a CI log).
        const data = (e) => e.data.replace(/"token":"[^"]*"/g, '"token":"…"');
        this.addEventListener(type, (e) => push({ type, data: data(e) }));
      }
    }
  };
})();`;

/** Start recording the Server-Sent Events of every page `context` opens (see {@link explain}). */
export const recordSse = (context: BrowserContext) => context.addInitScript(RECORD_SSE);

/**
 * The waiting room of `roomId` as Redis has it: line, heartbeat deadlines (ticket → ms), booking
 * area, ticket counter, meta (tick count, pace), the ticker lease holder and its TTL, and whether ticks advance
 * (the tick count read twice, 500 ms apart). Key layout: `packages/queue/src/waiting-room.ts`.
 */
export async function roomState(client: RedisClient, prefix: string, roomId: string) {
  const k = (name: string) => `${prefix}:q:{${roomId}}:${name}`;
  const [waiting, deadlines, active, records, counter, meta, lease, leaseTtlMs] = await Promise.all(
    [
      client.zrange(k('w'), '0', '20', 'WITHSCORES'),
      client.zrange(k('h'), '0', '20', 'WITHSCORES'),
      client.zrange(k('a'), '0', '20', 'WITHSCORES'),
      client.hgetall(k('t')),
      client.get(k('s')),
      client.hgetall(k('m')),
      client.get(k('l')),
      client.pttl(k('l')),
    ],
  );
  await new Promise((resolve) => setTimeout(resolve, 500));
  const ticksLater = await client.hget(k('m'), 'ticks');
  const time = await client.time();
  return {
    redisTimeMs: Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000),
    waiting,
    deadlines,
    active,
    records,
    counter,
    meta,
    lease,
    leaseTtlMs,
    ticks: { before: meta.ticks ?? null, after500ms: ticksLater },
  };
}

/**
 * What was still pending when a step of the browser test gave up: each page's URL, its `#line`
 * text and last SSE events, the concerts' waiting rooms in Redis, and the server's log.
 */
export async function explain(input: {
  pages: Record<string, Page>;
  client: RedisClient;
  prefix: string;
  roomIds: string[];
  serverLog: string;
}): Promise<string> {
  const out: string[] = ['--- browser test: what was pending ---'];
  for (const [who, page] of Object.entries(input.pages)) {
    if (page.isClosed()) {
      out.push(`${who}: page closed`);
      continue;
    }
    const seen = await page
      .evaluate(
        "({ line: document.getElementById('line')?.textContent ?? null, sse: window.__sse ?? [] })",
      )
      .catch((error: unknown) => ({ error: String(error) }));
    out.push(`${who}: ${page.url()}\n  ${JSON.stringify(seen)}`);
  }
  for (const roomId of input.roomIds) {
    const state = await roomState(input.client, input.prefix, roomId).catch((error: unknown) => ({
      error: String(error),
    }));
    out.push(`room ${roomId} in Redis: ${JSON.stringify(state)}`);
  }
  out.push(`server log (LOG_LEVEL=warn):\n${input.serverLog.slice(-8000) || '(empty)'}`);
  return out.join('\n');
}
