import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeUserId, encodeUserId } from '../src/user-id.js';

describe('user id encoding', () => {
  it('packs canonical UUIDs into 20 ASCII bytes and round-trips them', () => {
    fc.assert(
      fc.property(fc.uuid(), (uuid) => {
        const stored = encodeUserId(uuid);
        expect(stored).toHaveLength(20);
        expect(Buffer.byteLength(stored)).toBe(20);
        expect(decodeUserId(stored)).toBe(uuid);
      }),
    );
    const all = 'ffffffff-ffff-ffff-ffff-ffffffffffff';
    expect(decodeUserId(encodeUserId(all))).toBe(all);
    const zero = '00000000-0000-0000-0000-000000000000';
    expect(decodeUserId(encodeUserId(zero))).toBe(zero);
  });

  it('keeps every other id as is, and distinct ids stay distinct', () => {
    const upper = randomUUID().toUpperCase();
    expect(encodeUserId(upper)).toBe(upper);
    expect(encodeUserId('alice')).toBe('alice');
    fc.assert(
      fc.property(fc.uuid(), fc.uuid(), (a, b) => {
        expect(encodeUserId(a) === encodeUserId(b)).toBe(a === b);
      }),
    );
  });
});
