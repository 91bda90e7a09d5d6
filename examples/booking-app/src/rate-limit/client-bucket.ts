import { isIPv4, isIPv6 } from 'node:net';
import type { Request } from 'express';

/** The eight 16-bit groups of an IPv6 address (`::` expanded, a trailing dotted IPv4 converted). */
function hextets(address: string): string[] {
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (dotted) {
    const [a, b, c, d] = dotted.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, -dotted.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((h) => h.toLowerCase().replace(/^0+(?=.)/, ''));
}

/**
 * The rate-limit bucket of an address: an IPv4 address (IPv4-mapped IPv6 included) as it is, an
 * IPv6 address by its /64 — one subscriber usually gets a whole /64, so per-address buckets would
 * let them rotate through 2^64 of them.
 */
export function addressBucket(address: string): string {
  const plain = address.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(plain)?.[1];
  if (mapped && isIPv4(mapped)) return mapped;
  if (!isIPv6(plain)) return plain;
  return `${hextets(plain).slice(0, 4).join(':')}::/64`;
}

/**
 * The client's bucket: `req.ip` (the proxy's forwarded address only when `TRUST_PROXY` trusts the
 * proxy) through {@link addressBucket}.
 */
export function clientBucket(req: Request): string {
  return addressBucket(req.ip ?? req.socket.remoteAddress ?? 'unknown');
}
