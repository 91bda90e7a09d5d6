import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { PgDatabase } from '../src/db/pg-database.js';
import { launchChromium, screenshot, watchProblems } from './browser/chromium.js';
import { explain, recordSse } from './browser/diagnose.js';
import { startPageServer } from './browser/page-server.js';
import { POSTGRES_URL } from './helpers.js';
import { killServers } from './server-process.js';

afterEach(killServers);

// Issue #15 "Pages without dead ends", as a new user meets them in Chromium: every page says what
// happened and offers the next step. Waits are for conditions, each with a bound.

const standalone = redisTargets()[0] as ReturnType<typeof redisTargets>[number];
/** A short hold, so the test sees one run out (the countdown, then the server's expiry). */
const HOLD_MS = 6_000;

const poll = <T>(fn: () => Promise<T>, timeout = 10_000) => expect.poll(fn, { timeout });
const text = async (page: Page, selector: string) =>
  (await page.locator(selector).textContent()) ?? '';
const seat = (page: Page, label: string) =>
  page.getByRole('button', { name: new RegExp(`^Seat ${label},`) });
/** The recorded Server-Sent Events of the page (see diagnose.ts), as `type` or `type:data`. */
const sseLog = async (page: Page) =>
  (await page.evaluate('window.__sse ?? []')) as { type: string; data?: string }[];

async function signIn(page: Page, name: string) {
  await poll(() => page.getByRole('heading', { name: 'Sign in' }).isVisible()).toBe(true);
  await page.getByLabel('Your name').fill(name);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await poll(() => text(page, '#session')).toContain(`Signed in as ${name}`);
  await poll(() => page.locator('.card a.button').allTextContents()).toContain('Get tickets');
}

type Opened = { page: Page; problems: string[] };

describe('pages without dead ends (Chromium)', () => {
  const redis = useRedis(standalone);

  /**
   * Start the built server (its own schema, this test's Redis prefix) and Chromium, run `steps`
   * with `open(name)` (a signed-in user in a browser context of their own), and expect no
   * unexpected problem on any page. On a failure, print what was pending.
   */
  async function withApp(
    env: Record<string, string>,
    steps: (open: (who: string) => Promise<Opened>) => Promise<void>,
  ) {
    const { url, output, schema } = await startPageServer(redis.prefix, env);
    let browser: Browser | undefined;
    const pages: Record<string, Page> = {};
    const opened: Opened[] = [];
    try {
      browser = await launchChromium();
      const contexts: BrowserContext[] = [];
      await steps(async (who) => {
        const context = await (browser as Browser).newContext({
          baseURL: url,
          viewport: { width: 1000, height: 760 },
        });
        contexts.push(context);
        // A step on an element that never comes fails within the poll's bound, not the test's.
        context.setDefaultTimeout(5_000);
        const problems = watchProblems(context, who);
        await recordSse(context);
        const page = await context.newPage();
        pages[who] = page;
        await page.goto('/');
        await signIn(page, who);
        opened.push({ page, problems });
        return { page, problems };
      });
      // What went wrong while the steps ran (closing a page aborts its requests in flight).
      const problems = opened.flatMap((o) => o.problems);
      for (const context of contexts) await context.close();
      expect(problems).toEqual([]);
    } catch (error) {
      console.error(
        await explain({
          pages,
          client: redis.client,
          prefix: redis.prefix,
          roomIds: ['concert-1'],
          serverLog: output(),
        }),
      );
      throw error;
    } finally {
      await browser?.close();
      const admin = await PgDatabase.open({ url: POSTGRES_URL });
      await admin.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.close();
    }
  }

  it('a waiting room for an unknown concert says so, with a way back and no waiting text', async () => {
    await withApp({}, async (open) => {
      const eve = await open('eve');
      await eve.page.goto('/queue.html?concert=999');
      await poll(() => text(eve.page, '#line')).toMatch(/There is no concert with id 999/);
      // No "keep this tab open… closing it gives up your place": there is no place.
      expect(await eve.page.locator('#keep-open').isVisible()).toBe(false);
      expect(await eve.page.getByRole('link', { name: 'Back to the concerts' }).isVisible()).toBe(
        true,
      );
      expect(await text(eve.page, '#queue-error')).toBe('');
      await screenshot(eve.page, 'dead-ends-1-unknown-concert');
      // The 404 of GET /concerts/999 is the expected answer (Chromium logs it, too).
      const expected = (p: string) => /(HTTP 404: GET |status of 404 ).*concert/.test(p);
      eve.problems.splice(0, eve.problems.length, ...eve.problems.filter((p) => !expected(p)));
    });
  }, 60_000);

  it('the position shown never grows: a stale status does not undo a newer, smaller position', async () => {
    await withApp({}, async (open) => {
      // The stream says 3, then 2, then 3 again (a heartbeat read before the tick whose
      // position event came first); the join said 4.
      const bob = await open('bob');
      await bob.page.route(/\/concerts\/1\/queue$/, (route) =>
        route.request().method() === 'POST'
          ? route.fulfill({
              json: { state: 'waiting', position: 4, ticket: 9, etaMs: 40_000, soldOut: false },
            })
          : route.continue(),
      );
      const waiting = (position: number) =>
        `event: status\ndata: ${JSON.stringify({ state: 'waiting', position, etaMs: position * 10_000, soldOut: false })}\n\n`;
      await bob.page.route(/\/queue\/events\?/, (route) =>
        route.fulfill({
          status: 200,
          headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' },
          body: `${waiting(3)}event: position\ndata: {"position":2}\n\n${waiting(3)}`,
        }),
      );
      await bob.page.goto('/queue.html?concert=1');
      await poll(async () =>
        (await sseLog(bob.page))
          .filter((e) => e.type === 'status' || e.type === 'position')
          .map((e) => e.type)
          .slice(0, 3),
      ).toEqual(['status', 'position', 'status']);
      expect(await text(bob.page, '#position')).toBe('2');
      expect(await text(bob.page, '#eta')).toBe('Estimated wait: less than a minute.');
      await screenshot(bob.page, 'dead-ends-2-position');
      await bob.page.close();
    });
  }, 60_000);

  it('the booking window counts down in the waiting room and on the seat map', async () => {
    await withApp({}, async (open) => {
      const alice = await open('alice');
      await alice.page.goto('/queue.html?concert=1');
      await poll(() => text(alice.page, '#line')).toMatch(/your turn/);
      await poll(() => text(alice.page, '#turn-timer')).toMatch(/^(10:00|9:[0-5]\d)$/);
      await screenshot(alice.page, 'dead-ends-3-turn-countdown');
      await alice.page.getByRole('link', { name: 'Choose your seats' }).click();
      await alice.page.waitForURL(/\/seats\.html\?concert=1$/);
      await poll(() => seat(alice.page, 'A1').isEnabled()).toBe(true);
      await poll(() => text(alice.page, '#turn-timer')).toMatch(/^(10:00|9:[0-5]\d)$/);
    });
  }, 60_000);

  /** Alice, admitted to concert 1, on its seat map. */
  async function onSeatMap(open: (who: string) => Promise<Opened>) {
    const alice = await open('alice');
    await alice.page.goto('/queue.html?concert=1');
    await poll(() => text(alice.page, '#line')).toMatch(/your turn/);
    await alice.page.getByRole('link', { name: 'Choose your seats' }).click();
    await alice.page.waitForURL(/\/seats\.html\?concert=1$/);
    await poll(() => seat(alice.page, 'A1').isEnabled()).toBe(true);
    return alice;
  }

  /** Hold `label` on the seat map: the panel shows, with the link to payment (its href). */
  async function holdSeat(page: Page, label: string) {
    await seat(page, label).click();
    await page.getByRole('button', { name: 'Hold selected seats' }).click();
    await poll(() => page.locator('#held').isVisible()).toBe(true);
    expect(await text(page, '#held-seats')).toMatch(new RegExp(`^Seats ${label} — `));
    expect(await page.getByRole('link', { name: 'Continue to payment' }).isVisible()).toBe(true);
    return (await page.locator('#to-pay').getAttribute('href')) as string;
  }

  it('after a reload the page shows the user’s own hold: their seats, the time left, the pay link', async () => {
    await withApp({}, async (open) => {
      const alice = await onSeatMap(open);
      const payHref = await holdSeat(alice.page, 'A1');
      expect(payHref).toMatch(/^\/pay\.html\?reservation=[0-9a-f-]{36}$/);
      await alice.page.reload();
      await poll(() => alice.page.locator('#held').isVisible()).toBe(true);
      expect(await text(alice.page, '#held-seats')).toMatch(/^Seats A1 — /);
      expect(await text(alice.page, '#timer')).toMatch(/^[45]:\d\d$/);
      expect(await alice.page.locator('#to-pay').getAttribute('href')).toBe(payHref);
      expect(await alice.page.getByRole('link', { name: 'Continue to payment' }).isVisible()).toBe(
        true,
      );
      await poll(() => seat(alice.page, 'A1').getAttribute('aria-label')).toMatch(/held by you$/);
      await screenshot(alice.page, 'dead-ends-4-hold-after-reload');
      // The pay link leads to a payment form for that hold.
      await alice.page.getByRole('link', { name: 'Continue to payment' }).click();
      await alice.page.waitForURL(/\/pay\.html\?reservation=/);
      await poll(() => text(alice.page, '#order-seats')).toBe('A1');
      // Leaving the page (the reload, the link) may cut a status refresh short: not a fault.
      const cut = (p: string) => /request failed: GET \S+\/seats\/status net::ERR_ABORTED$/.test(p);
      alice.problems.splice(0, alice.problems.length, ...alice.problems.filter((p) => !cut(p)));
    });
  }, 60_000);

  it('when a hold runs out the panel goes, the page says so, and the user picks again', async () => {
    await withApp({ HOLD_TTL_MS: String(HOLD_MS), HOLD_GRACE_MS: '0' }, async (open) => {
      const alice = await onSeatMap(open);
      await holdSeat(alice.page, 'A1');
      await poll(() => alice.page.locator('#held').isVisible(), HOLD_MS + 10_000).toBe(false);
      expect(await text(alice.page, '#seats-error')).toMatch(/hold has expired/);
      expect(await alice.page.locator('#picker').isVisible()).toBe(true);
      // The server's expiry frees A1 (a moment after the page's countdown reached zero).
      await poll(() => seat(alice.page, 'A1').getAttribute('aria-label'), 20_000).toMatch(
        /available$/,
      );
      await holdSeat(alice.page, 'A3');
      await screenshot(alice.page, 'dead-ends-5-picked-again');
    });
  }, 90_000);
});
