import { createHmac, randomBytes, webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hmacKey } from '../src/hmac-key.js';

describe('hmacKey', () => {
  it('imports an HS256 secret once as a non-extractable key that signs and verifies like HMAC-SHA-256', async () => {
    const secret = randomBytes(32);
    const key = await hmacKey(secret);
    expect(key.algorithm).toMatchObject({ name: 'HMAC', hash: { name: 'SHA-256' } });
    expect(key.extractable).toBe(false);
    expect([...key.usages].sort()).toEqual(['sign', 'verify']);
    const data = Buffer.from('header.payload');
    const signature = Buffer.from(await webcrypto.subtle.sign('HMAC', key, data));
    expect(signature.equals(createHmac('sha256', secret).update(data).digest())).toBe(true);
    expect(await webcrypto.subtle.verify('HMAC', key, signature, data)).toBe(true);
  });
});
