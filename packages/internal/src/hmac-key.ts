import { webcrypto } from 'node:crypto';

/**
 * An HS256 secret as a WebCrypto `CryptoKey`, imported once. Why: jose imports a `Uint8Array` (or a
 * secret `KeyObject`) with `crypto.subtle.importKey` on every sign and verify — about 3 % of the
 * reference app's CPU under load, more than half the cost of the HMAC itself. A `CryptoKey` is used
 * as it is. Not extractable; usable to sign and verify.
 */
export function hmacKey(secret: Uint8Array): Promise<webcrypto.CryptoKey> {
  return webcrypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
    'verify',
  ]);
}
