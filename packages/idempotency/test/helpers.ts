import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import { afterEach } from 'vitest';

/** An Express app listening on a free port; closed after the test. */
export interface Served {
  url: string;
  close(): Promise<void>;
}

const open: Served[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

export async function serve(configure: (app: Express) => void): Promise<Served> {
  const app = express();
  configure(app);
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const served: Served = {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  open.push(served);
  return served;
}

/** POST JSON with an Idempotency-Key (sf-string) and optional extra headers. */
export function post(
  url: string,
  key: string | undefined,
  body: unknown = { amount: 100 },
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(key === undefined ? {} : { 'idempotency-key': `"${key}"` }),
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

/** Poll `condition` until it holds (generous default for a loaded machine). */
export async function until(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A promise with its resolve function, to hold a handler until the test lets it go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}
