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

  it('keeps the stored form of earlier versions (keys already in Redis stay valid)', () => {
    const stored = encodeUserId('0123abcd-4567-89ef-fedc-ba9876543210');
    expect([...stored].map((c) => c.charCodeAt(0))).toEqual([
      1, 0, 72, 117, 60, 106, 21, 79, 9, 119, 127, 91, 75, 84, 97, 108, 84, 25, 4, 0,
    ]);
  });

  it('keeps near-UUIDs as is', () => {
    for (const id of [
      '0123abcd-4567-89ef-fedc-ba987654321g', // not hex
      '0123abcd-4567-89ef-fedc-ba987654321\u00e9', // not ASCII
      '0123abcd-4567-89ef-fedcb-a987654321', // hyphen misplaced
      '0123abcd-4567-89ef-fedc-ba98765432100', // too long
      '0123abcd-4567-89ef-fedc-ba98765432 0', // space
    ]) {
      expect(encodeUserId(id)).toBe(id);
      expect(decodeUserId(encodeUserId(id))).toBe(id);
    }
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
