import { text } from './validate.js';

/**
 * A key prefix: 1–64 characters of `[A-Za-z0-9_:.-]`. Braces are refused because they would change
 * which part of a key Redis Cluster hashes.
 */
export function keyPrefix(name: string, value: unknown): string {
  const prefix = text(name, value, { maxBytes: 64 });
  if (!/^[\w:.-]+$/.test(prefix)) {
    throw new TypeError(`${name} must match [A-Za-z0-9_:.-]+, got ${JSON.stringify(prefix)}`);
  }
  return prefix;
}

/** True when every `{` is closed by a later `}` and braces do not nest. */
export function bracesBalanced(value: string): boolean {
  let open = false;
  for (const ch of value) {
    if (ch === '{') {
      if (open) return false;
      open = true;
    } else if (ch === '}') {
      if (!open) return false;
      open = false;
    }
  }
  return !open;
}

/**
 * A name that becomes part of a Redis key (a seat, a room, an item): a non-empty string of at most
 * `maxBytes` UTF-8 bytes with balanced, non-nested braces. A balanced `{tag}` is the caller's way to
 * put related keys in one Cluster slot and is kept as is.
 */
export function keyPart(name: string, value: unknown, maxBytes = 512): string {
  const part = text(name, value, { maxBytes });
  if (!bracesBalanced(part)) {
    throw new TypeError(`${name} has unbalanced or nested '{' '}', got ${JSON.stringify(part)}`);
  }
  return part;
}

/**
 * The part of `key` that Redis Cluster hashes: the content of the first `{...}` if it is non-empty,
 * else the whole key (the rule from the Cluster specification).
 */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  if (close === -1 || close === open + 1) return key;
  return key.slice(open + 1, close);
}
