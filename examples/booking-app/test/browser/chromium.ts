import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`); CI installs it. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where the browser test saves a screenshot of each page (git-ignored). */
export const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts');

/**
 * Launch headless Chromium. Fails (never skips) when it is not installed: the browser test is
 * part of the suite.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install it (Debian/Ubuntu: apt-get install chromium) ` +
        'or set CHROMIUM_PATH; the browser test needs a real browser',
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * Everything that went wrong in a browser context: console errors and warnings, uncaught page
 * errors, failed requests (except a page closing its own SSE stream) and HTTP error answers. A
 * clean page leaves it empty.
 */
export function watchProblems(context: BrowserContext, who: string): string[] {
  const problems: string[] = [];
  const watch = (page: Page) => {
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') {
        problems.push(`${who} console.${message.type()}: ${message.text()} (${page.url()})`);
      }
    });
    page.on('pageerror', (error) => problems.push(`${who} page error: ${error.message}`));
  };
  for (const page of context.pages()) watch(page);
  context.on('page', watch);
  context.on('requestfailed', (request) => {
    // The one expected abort: a page closing its own Server-Sent Events stream (EventSource.close()
    // once the user is admitted, or the tab going away). A stream never "finishes" otherwise.
    const sseClosed =
      request.failure()?.errorText === 'net::ERR_ABORTED' &&
      /\/concerts\/\d+\/queue\/events\?/.test(request.url());
    if (sseClosed) return;
    problems.push(
      `${who} request failed: ${request.method()} ${request.url()} ${request.failure()?.errorText}`,
    );
  });
  context.on('response', (response) => {
    if (response.status() >= 400) {
      problems.push(
        `${who} HTTP ${response.status()}: ${response.request().method()} ${response.url()}`,
      );
    }
  });
  return problems;
}

/** Save a full-page PNG of `page` as `test-artifacts/<name>.png`. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
