import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { PgDatabase } from '../src/db/pg-database.js';
import { launchChromium, screenshot, watchProblems } from './browser/chromium.js';
import { explain, recordSse } from './browser/diagnose.js';
import { startPageServer } from './browser/page-server.js';
import { call, count, POSTGRES_URL, waitFor } from './helpers.js';
import { killServers } from './server-process.js';

afterEach(killServers);

const standalone = redisTargets()[0] as ReturnType<typeof redisTargets>[number];
const CONCERT = 1; // Aurora Live: 50 seats, E9 and E10 BLOCKED
const NAME = 'Aurora Live';

/** Retry an assertion on page state for up to 10 s (the pages update asynchronously). */
const poll = <T>(fn: () => Promise<T>, options = { timeout: 10_000 }) => expect.poll(fn, options);

/** The text of the first element matching `selector`. */
const text = async (page: Page, selector: string) =>
  (await page.locator(selector).textContent()) ?? '';
/** A seat button of the seat map, by its label (its accessible name starts `Seat A1,`). */
const seat = (page: Page, label: string) =>
  page.getByRole('button', { name: new RegExp(`^Seat ${label},`) });

/** Sign in through the login form of the concert list (the page the browser is on). */
async function signIn(page: Page, name: string) {
  const listing = !new URL(page.url()).searchParams.has('next');
  await poll(() => page.getByRole('heading', { name: 'Sign in' }).isVisible()).toBe(true);
  await page.getByLabel('Your name').fill(name);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await poll(() => text(page, '#session')).toContain(`Signed in as ${name}`);
  // On the concert list, signing in shows the session first and then fetches the list again (its
  // links now say "Get tickets"): wait for that too, or a navigation right after aborts the fetch
  // ("request failed: GET /concerts net::ERR_ABORTED", seen once in CI).
  if (listing) {
    await poll(() => page.locator('.card a.button').allTextContents()).toContain('Get tickets');
  }
}

/** From "your turn" in the waiting room to the confirmation page, holding `labels`. */
async function book(page: Page, labels: string[], shot: (name: string) => Promise<void>) {
  await page.getByRole('link', { name: 'Choose your seats' }).click();
  await page.waitForURL(/\/seats\.html\?concert=1$/);
  await poll(() => text(page, 'h1')).toBe(`Choose your seats: ${NAME}`);
  await expect(seat(page, 'E9').getAttribute('aria-label')).resolves.toMatch(/not for sale$/);
  expect(await seat(page, 'E9').isDisabled()).toBe(true);
  for (const label of labels) {
    // By keyboard: focus the seat button and press Space.
    await seat(page, label).focus();
    await page.keyboard.press('Space');
    expect(await seat(page, label).getAttribute('aria-pressed')).toBe('true');
  }
  expect(await text(page, '#selection')).toContain(`Selected: ${labels.join(', ')}`);
  await shot('1-seat-map');
  await page.getByRole('button', { name: 'Hold selected seats' }).click();
  await poll(() => page.locator('#held').isVisible()).toBe(true);
  expect(await text(page, '#held-seats')).toContain(`Seats ${labels.join(', ')}`);
  expect(await text(page, '#timer')).toMatch(/^[45]:\d\d$/); // a 5-minute hold counting down
  await shot('2-seats-held');

  await page.getByRole('link', { name: 'Continue to payment' }).click();
  await page.waitForURL(/\/pay\.html\?reservation=/);
  await poll(() => page.locator('#order-seats').isVisible()).toBe(true);
  expect(await text(page, '#order-seats')).toBe(labels.join(', '));
  expect(await page.getByLabel('Card number').inputValue()).toBe('4242 4242 4242 4242');
  await shot('3-payment');
  await page.getByRole('button', { name: /^Pay \$/ }).click();
  // The gateway times out (after charging): 202, the page says a retry is in progress and polls.
  await poll(() => text(page, '#pay-status')).toMatch(/^Retry in progress/);
  await shot('4-payment-retry-in-progress');
  await page.waitForURL(/\/confirmation\.html\?reservation=.+&payment=/, { timeout: 15_000 });
  await poll(() => text(page, 'h1')).toBe('Booking confirmed');
  expect(await text(page, '#confirmed-seats')).toBe(labels.join(', '));
  await shot('5-confirmation');
  return new URL(page.url()).searchParams.get('reservation') as string;
}

// The end-to-end scenario in Debian's Chromium against the built server: capacity 1, the
// first user books and pays, the second waits, sees a position, and is admitted after the first
// completes. A third user closes the tab while waiting and leaves the line (sendBeacon).
describe('web pages in Chromium', () => {
  const redis = useRedis(standalone);

  it('two users, capacity 1: the first books and pays, the second is admitted after', async () => {
    const { url, output, schema } = await startPageServer(redis.prefix, {
      QUEUE_MAX_ACTIVE: '1',
      // Every first gateway call times out after charging: each payment answers 202, the page
      // shows the retry, and the BullMQ retry (1 s later, same key) finds the charge.
      PG_LATENCY_MS: '5',
      PG_TIMEOUT_MS: '50',
      PG_TIMEOUT_RATE: '1',
      PG_CHARGED_ON_TIMEOUT_RATE: '1',
    });
    const db = await PgDatabase.open({ url: POSTGRES_URL, schema });

    let browser: Browser | undefined;
    const pages: Record<string, Page> = {};
    try {
      // `/` is the concert list for a browser and the JSON description for API clients; pages carry
      // a CSP without 'unsafe-inline' (a violation would be a console error below); the API wins.
      const html = await fetch(`${url}/`, { headers: { accept: 'text/html,*/*;q=0.8' } });
      expect(html.headers.get('content-type')).toMatch(/^text\/html/);
      expect(html.headers.get('content-security-policy')).toMatch(/script-src 'self';/);
      expect(await html.text()).toContain('<script type="module" src="/js/concerts.js">');
      expect((await call(url, 'GET', '/')).body.name).toBe('boxoffice reference app');
      expect((await call(url, 'GET', '/concerts')).body.concerts).toHaveLength(3);
      expect((await call(url, 'GET', '/package.json')).status).toBe(404); // only public/ is served

      browser = await launchChromium();
      const contexts: BrowserContext[] = [];
      // One browser context per user: separate sessionStorage, as two people on two machines.
      const open = async (who: string) => {
        const context = await (browser as Browser).newContext({
          baseURL: url,
          viewport: { width: 1000, height: 760 },
        });
        contexts.push(context);
        const found = watchProblems(context, who);
        await recordSse(context);
        const page = await context.newPage();
        pages[who] = page;
        const shot = (name: string) => screenshot(page, `${who}-${name}`);
        return { page, found, shot };
      };
      const alice = await open('alice');
      const bob = await open('bob');
      // Bob's first stream is refused (503, as while Redis restarts): EventSource gives such a
      // stream up for good, so the page must fetch a fresh stream token and open another. Every
      // stream URL carries a stream token of this room, never his user token.
      const streamUrls: string[] = [];
      await bob.page.route(/\/queue\/events\?/, async (route) => {
        streamUrls.push(route.request().url());
        if (streamUrls.length > 1) return route.continue();
        return route.fulfill({
          status: 503,
          contentType: 'application/problem+json',
          headers: { 'retry-after': '1' },
          body: JSON.stringify({ title: 'Service Unavailable', status: 503, code: 'unavailable' }),
        });
      });
      const carol = await open('carol');

      // Alice: concert list, demo login, then the waiting room of Aurora Live. The room is empty:
      // it is her turn at once.
      await alice.page.goto('/');
      await signIn(alice.page, 'alice');
      await poll(() => alice.page.locator('.card h3').allTextContents()).toEqual([
        'Tiny Room Session',
        NAME,
        'Midnight Strings',
      ]);
      await poll(() => text(alice.page, '#session')).toContain('Signed in as alice');
      await screenshot(alice.page, '01-concerts');
      await alice.page.getByRole('link', { name: `Get tickets for ${NAME}` }).click();
      await alice.page.waitForURL(/\/queue\.html\?concert=1$/);
      await poll(() => text(alice.page, '#line')).toMatch(/your turn/);
      await screenshot(alice.page, '02-alice-waiting-room-your-turn');

      // Bob opens the waiting room directly: the login form first, then back to the room, where he
      // waits behind Alice (capacity 1) with a live position and an estimate.
      await bob.page.goto(`/queue.html?concert=${CONCERT}`);
      await bob.page.waitForURL(/\/\?next=/);
      await signIn(bob.page, 'bob');
      await bob.page.waitForURL(/\/queue\.html\?concert=1$/);
      await poll(() => text(bob.page, '#line')).toMatch(/You are number 1 in line\./);
      expect(await text(bob.page, '#eta')).toMatch(/^Estimated wait: /);
      await screenshot(bob.page, '03-bob-waiting-room-position');

      // Carol queues behind Bob, then closes the tab: the beacon takes her out of the line.
      await carol.page.goto('/');
      await signIn(carol.page, 'carol');
      await carol.page.goto(`/queue.html?concert=${CONCERT}`);
      await poll(() => text(carol.page, '#line')).toMatch(/You are number 2 in line\./);
      // The page keeps the demo login in sessionStorage (evaluated in the page: no DOM types here).
      const carolToken = (await carol.page.evaluate(
        "JSON.parse(sessionStorage.getItem('bo.user')).token",
      )) as string;
      await carol.page.close({ runBeforeUnload: true });
      await waitFor(
        async () =>
          (await call(url, 'GET', `/concerts/${CONCERT}/queue`, { token: carolToken })).body,
        (s) => s.state === 'unknown',
      );
      // (Within waitFor's 20 s only the beacon can do that: heartbeat eviction takes 30 s.)
      expect(await text(bob.page, '#line')).toMatch(/You are number 1 in line\./);

      // Alice books two seats; the payment is retried once by the server; then confirmation.
      const aliceReservation = await book(alice.page, ['A1', 'A2'], alice.shot);
      expect(
        await count(
          db,
          "SELECT count(*) FROM seats WHERE label IN ('A1','A2') AND concert_id = $1 AND status = 'ASSIGNED'",
          [CONCERT],
        ),
      ).toBe(2);

      // Alice's purchase freed the slot: Bob's page is told it is his turn (SSE), and he books.
      await poll(() => text(bob.page, '#line')).toMatch(/your turn/);
      const bobToken = (await bob.page.evaluate(
        "JSON.parse(sessionStorage.getItem('bo.user')).token",
      )) as string;
      const streamTokens = streamUrls.map((u) => new URL(u).searchParams.get('access_token') ?? '');
      expect(streamTokens.length).toBeGreaterThanOrEqual(2);
      expect(new Set(streamTokens).size).toBe(streamTokens.length); // a fresh token each time
      for (const token of streamTokens) {
        expect(token).not.toBe(bobToken);
        const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString());
        expect(claims).toMatchObject({ scope: 'queue_events', aud: `concert-${CONCERT}` });
      }
      // The refused stream is the one expected failure on Bob's side.
      const refusedStream = (problem: string) =>
        /HTTP 503: GET .*\/queue\/events\?/.test(problem) ||
        /EventSource|status of 503 \(Service Unavailable\) \(.*\/queue\.html/.test(problem);
      expect(bob.found.filter(refusedStream).length).toBeGreaterThan(0);
      bob.found.splice(0, bob.found.length, ...bob.found.filter((p) => !refusedStream(p)));
      const bobReservation = await book(bob.page, ['B5'], async (name) => {
        if (name === '1-seat-map') {
          // Alice's seats are sold to Bob's eyes (the status may lag by SEAT_STATUS_CACHE_MS; the
          // page refreshes it in place).
          await poll(() => seat(bob.page, 'A1').getAttribute('aria-label')).toMatch(/sold$/);
          expect(await seat(bob.page, 'A1').isDisabled()).toBe(true);
        }
        await bob.shot(name);
      });

      // The database agrees with the pages.
      const seats = await db.query<{ label: string; reservation_id: string }>(
        "SELECT label, reservation_id FROM seats WHERE concert_id = $1 AND status = 'ASSIGNED' ORDER BY id",
        [CONCERT],
      );
      expect(seats.rows).toEqual([
        { label: 'A1', reservation_id: aliceReservation },
        { label: 'A2', reservation_id: aliceReservation },
        { label: 'B5', reservation_id: bobReservation },
      ]);
      expect(await count(db, "SELECT count(*) FROM reservations WHERE status = 'CONFIRMED'")).toBe(
        2,
      );
      const payments = await db.query<{ status: string; attempts: number }>(
        'SELECT status, attempts FROM payments ORDER BY created_at',
      );
      // Each payment: the first gateway call timed out (202), the retry succeeded; one charge each.
      expect(payments.rows).toEqual([
        { status: 'SUCCEEDED', attempts: 2 },
        { status: 'SUCCEEDED', attempts: 2 },
      ]);
      expect(await count(db, 'SELECT count(*) FROM mock_pg_charges')).toBe(2);

      // The popular products page: the sketch's estimate next to the exact SQL count.
      await alice.page.getByRole('link', { name: 'Popular products' }).click();
      await alice.page.waitForURL(/\/popular\.html$/);
      await poll(() => alice.page.locator('#sketch tbody tr').count()).toBeGreaterThan(0);
      const names = (id: string) => alice.page.locator(`#${id} tbody th`).allTextContents();
      expect(await names('sketch')).toEqual(await names('exact'));
      expect((await names('exact'))[0]).toBe('Tour T-shirt');
      await screenshot(alice.page, '10-popular-products');

      // Dave opens the waiting room of a concert with no seat left to sell: the page says so at
      // once, and he was never put in line (so the room cannot admit him to an empty map).
      await db.query(
        `UPDATE seats SET status = 'BLOCKED' WHERE concert_id = 2 AND status = 'AVAILABLE'`,
      );
      const dave = await open('dave');
      await dave.page.goto('/');
      await signIn(dave.page, 'dave');
      await dave.page.goto('/queue.html?concert=2');
      await poll(() => text(dave.page, '#line')).toBe(
        'Sold out: every seat of this concert is taken.',
      );
      expect(await dave.page.getByRole('link', { name: 'Back to the concerts' }).isVisible()).toBe(
        true,
      );
      const daveToken = (await dave.page.evaluate(
        "JSON.parse(sessionStorage.getItem('bo.user')).token",
      )) as string;
      await waitFor(
        async () => (await call(url, 'GET', '/concerts/2/queue', { token: daveToken })).body,
        (s) => s.state === 'unknown' && s.soldOut === true,
      );
      await screenshot(dave.page, '11-sold-out');

      for (const context of contexts) await context.close();
      expect([...alice.found, ...bob.found, ...carol.found, ...dave.found]).toEqual([]);
    } catch (error) {
      // A step gave up: say what it was waiting for (pages, SSE, the room in Redis, server log).
      const report = await explain({
        pages,
        client: redis.client,
        prefix: redis.prefix,
        roomIds: [`concert-${CONCERT}`, 'concert-2'],
        serverLog: output(),
      });
      console.error(report);
      throw error;
    } finally {
      await browser?.close();
      await db.close();
      const admin = await PgDatabase.open({ url: POSTGRES_URL });
      await admin.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.close();
    }
  }, 60_000); // about 15 s alone; room for a loaded 2-core machine
});
