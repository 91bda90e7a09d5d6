import { AccessTokens } from '../src/index.js';

export const SECRET = 'test-secret-that-is-at-least-32-bytes-long!';

export function hsTokens(): AccessTokens {
  return new AccessTokens({ secret: SECRET, issuer: 'boxoffice-test' });
}

/** Poll `fn` until it returns a truthy value (generous deadline for a loaded machine). */
export async function until<T>(
  fn: () => Promise<T> | T,
  timeoutMs = 20_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
