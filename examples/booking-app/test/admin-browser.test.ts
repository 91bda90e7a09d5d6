import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import type { Browser, Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { PgDatabase } from '../src/db/pg-database.js';
import { launchChromium, screenshot, watchProblems } from './browser/chromium.js';
import { startPageServer } from './browser/page-server.js';
import { call, POSTGRES_URL, waitFor } from './helpers.js';
import { killServers } from './server-process.js';

afterEach(killServers);

const standalone = redisTargets()[0] as ReturnType<typeof redisTargets>[number];
const CONCERT = 1; // Aurora Live: 50 seats, E9 and E10 BLOCKED
const ADMIN = 'browser-admin-token-0123';
const ROOM = `/admin/api/concerts/${CONCERT}/room`;

/** Retry an assertion on page state for up to 10 s (the page updates asynchronously). */
const poll = <T>(fn: () => Promise<T>, options = { timeout: 10_000 }) => expect.poll(fn, options);
const text = async (page: Page, selector: string) =>
  (await page.locator(selector).textContent()) ?? '';

/**
 * The answers this test provokes on purpose: the page's first probe of the API without a token
 * (401: "on, needs a token") and the wrong token typed first; and the live stream the page aborts
 * when it goes away.
 */
const expected = (problem: string) =>
  /HTTP 401: GET .*\/admin\/api$/.test(problem) ||
  /status of 401 \(Unauthorized\) \(.*\/admin\)$/.test(problem) ||
  /request failed: GET .*\/admin\/api\/concerts\/\d+\/live net::ERR_ABORTED/.test(problem);

// Issue #15 in Debian's Chromium against the built server: the operator enters the token, pauses
// the room (a waiter who joined over HTTP is not admitted while ticks run), resumes it (admitted),
// and changes maxActive; the page shows each change.
describe('operator page in Chromium', () => {
  const redis = useRedis(standalone);

  it('token, pause → nobody admitted, resume → admitted, maxActive changed', async () => {
    const { url, output, schema } = await startPageServer(redis.prefix, { ADMIN_TOKEN: ADMIN });
    const admin = (method: string, path: string) => call(url, method, path, { token: ADMIN });
    let browser: Browser | undefined;
    let page: Page | undefined;
    try {
      browser = await launchChromium();
      const context = await browser.newContext({
        baseURL: url,
        viewport: { width: 1100, height: 900 },
      });
      const found = watchProblems(context, 'operator');
      const p = await context.newPage();
      page = p;
      const shot = (name: string) => screenshot(p, `admin-${name}`);

      await p.goto('/admin');
      await poll(() => p.getByLabel(/Admin token/).isVisible()).toBe(true);
      await p.getByLabel(/Admin token/).fill(`${ADMIN}-wrong`);
      await p.getByRole('button', { name: 'Open the console' }).click();
      await poll(() => text(p, '#login-error')).toMatch(/not the server’s ADMIN_TOKEN/);
      await p.getByLabel(/Admin token/).fill(ADMIN);
      await p.getByRole('button', { name: 'Open the console' }).click();
      await poll(() => p.locator('#console').isVisible()).toBe(true);
      expect(await p.evaluate("sessionStorage.getItem('bo.admin')")).toBe(ADMIN);
      await p.getByLabel('Concert').selectOption(String(CONCERT));
      await poll(() => text(p, '#room-state')).toBe('Admitting');
      // The live stream fills the numbers and the charts (plain SVG, no inline style under the CSP).
      await poll(() => text(p, '#n-seats-left')).toBe('48');
      await poll(() => p.locator('#charts figure svg polyline').count()).toBeGreaterThan(0);
      await shot('1-console');

      // Pause; a waiter joins over HTTP; a few ticks run; the waiter is still waiting.
      await p.getByRole('button', { name: 'Pause admissions' }).click();
      await poll(() => p.locator('#room-state').getAttribute('data-paused')).toBe('true');
      expect(await text(p, '#room-state')).toBe('Paused (by an operator)');
      const login = await call(url, 'POST', '/auth/demo-login', { body: { name: 'wanda' } });
      const token = login.body.token as string;
      const joined = await call(url, 'POST', `/concerts/${CONCERT}/queue`, { token });
      expect(joined.body).toMatchObject({ state: 'waiting', paused: true });
      const ticksAtJoin = (await admin('GET', ROOM)).body.ticks as number;
      await waitFor(
        () => admin('GET', ROOM).then((r) => r.body),
        (room) => room.ticks >= ticksAtJoin + 3,
      );
      expect((await call(url, 'GET', `/concerts/${CONCERT}/queue`, { token })).body).toMatchObject({
        state: 'waiting',
        paused: true,
      });
      await poll(() => text(p, '#n-waiting')).toBe('1');
      await shot('2-paused-one-waiting');

      // Resume: the next tick admits the waiter.
      await p.getByRole('button', { name: 'Resume admissions' }).click();
      await poll(() => p.locator('#room-state').getAttribute('data-paused')).toBe('false');
      await waitFor(
        () => call(url, 'GET', `/concerts/${CONCERT}/queue`, { token }).then((r) => r.body),
        (status) => status.state === 'active',
      );
      await poll(() => text(p, '#n-active')).toBe('1');
      await shot('3-resumed-admitted');

      // Change maxActive: the page shows the new setting, and so does the API.
      await p.getByLabel('Max active').fill('7');
      await p.getByLabel('Order').selectOption('random');
      await p.getByRole('button', { name: 'Apply settings' }).click();
      await poll(() => text(p, '#settings-current')).toBe(
        'max active 7 · admit per tick 10 · order random',
      );
      // …and the capacity chart's line steps to it (its label carries the latest values).
      await poll(() =>
        p
          .locator('#charts figure svg[aria-label^="Active and capacity"]')
          .getAttribute('aria-label'),
      ).toMatch(/capacity 7$/);
      expect((await admin('GET', ROOM)).body.settings).toEqual({
        maxActive: 7,
        admitPerTick: 10,
        order: 'random',
      });
      await shot('4-settings-changed');

      expect(found.filter((p) => !expected(p))).toEqual([]);
      await context.close();
    } catch (error) {
      console.error(`page state: ${page ? await page.content().catch(() => '?') : '-'}`);
      console.error(`server log:\n${output()}`);
      throw error;
    } finally {
      await browser?.close();
      const db = await PgDatabase.open({ url: POSTGRES_URL });
      await db.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await db.close();
    }
  }, 60_000);
});
