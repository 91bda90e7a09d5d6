import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  IdempotencyKeyInvalidError,
  MAX_KEY_LENGTH,
  parseIdempotencyKey,
} from '../src/index.js';

function reason(header: string | string[] | undefined): string {
  try {
    parseIdempotencyKey(header);
    return 'ok';
  } catch (error) {
    expect(error).toBeInstanceOf(IdempotencyKeyInvalidError);
    return (error as IdempotencyKeyInvalidError).reason;
  }
}

const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  minLength: 1,
  maxLength: MAX_KEY_LENGTH,
});

describe('parseIdempotencyKey', () => {
  it('parses sf-strings with escapes, parameters and surrounding whitespace', () => {
    expect(parseIdempotencyKey('"8e03978e-40d5-43e8-bc93-6894a57f9324"')).toBe(
      '8e03978e-40d5-43e8-bc93-6894a57f9324',
    );
    expect(parseIdempotencyKey('  "a\\"b\\\\c"\t')).toBe('a"b\\c');
    expect(parseIdempotencyKey('"k";v=1')).toBe('k');
    expect(parseIdempotencyKey(['"k"'])).toBe('k');
  });

  it('accepts well-formed RFC 8941 parameters after the string and ignores them', () => {
    const valid = [
      '"k";a',
      '"k"; a',
      '"k";a=1;b=-2;c=3.25;d=?0;e=?1',
      '"k";*x-y.z_9*=tok/en:1',
      '"k";a="v;\\"w\\\\";b=:cGFyYW0=:;c=*',
      '"k";a=1;a=2',
      '"k";a  ',
    ];
    for (const header of valid) expect(parseIdempotencyKey(header), header).toBe('k');
  });

  it('refuses malformed RFC 8941 parameters after the string', () => {
    const invalid = [
      '"k";',
      '"k"; ',
      '"k";@x',
      '"k";a=',
      '"k";A=1',
      '"k";1a',
      '"k";a=b=c',
      '"k";a;',
      '"k";a=1.',
      '"k";a=1.2345',
      '"k";a=1234567890123456',
      '"k";a="v',
      '"k";a=?2',
      '"k";a=:not base64!:',
      '"k";a=-',
      '"k";a =1',
      '"k";a= 1',
      '"k" ;a',
      '"k";a=1 ;b',
      '"k";a=é',
    ];
    for (const header of invalid) expect(reason(header), header).toBe('malformed');
  });

  it('accepts an unquoted token for compatibility', () => {
    expect(parseIdempotencyKey('order-42_x:y/z')).toBe('order-42_x:y/z');
  });

  it('refuses missing, empty, oversized, non-ASCII and broken values', () => {
    expect(reason(undefined)).toBe('missing');
    expect(reason('')).toBe('malformed');
    expect(reason('""')).toBe('malformed');
    expect(reason('"abc')).toBe('malformed');
    expect(reason('"a\\nb"')).toBe('malformed');
    expect(reason('"a\u0001"')).toBe('malformed');
    expect(reason('"é"')).toBe('malformed');
    expect(reason('a b')).toBe('malformed');
    expect(reason('a"b')).toBe('malformed');
    expect(reason('"a" "b"')).toBe('malformed');
    expect(reason('"a", "b"')).toBe('malformed');
    expect(reason(['"a"', '"b"'])).toBe('malformed');
    expect(reason(`"${'k'.repeat(MAX_KEY_LENGTH)}"`)).toBe('ok');
    expect(reason(`"${'k'.repeat(MAX_KEY_LENGTH + 1)}"`)).toBe('too_long');
    expect(reason('k'.repeat(MAX_KEY_LENGTH + 1))).toBe('too_long');
  });

  it('answers the same with and without surrounding whitespace (the fast path agrees with the parser)', () => {
    const ascii = fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: MAX_KEY_LENGTH + 3,
    });
    fc.assert(
      fc.property(ascii, fc.boolean(), (text, quoted) => {
        const header = quoted ? `"${text}"` : text;
        const padded = ` ${header}\t`;
        expect(reason(padded)).toBe(reason(header));
        if (reason(header) === 'ok') {
          expect(parseIdempotencyKey(padded)).toBe(parseIdempotencyKey(header));
        }
      }),
    );
    expect(parseIdempotencyKey('k'.repeat(MAX_KEY_LENGTH))).toBe('k'.repeat(MAX_KEY_LENGTH));
  });

  it('round-trips every printable ASCII key serialised as an sf-string', () => {
    fc.assert(
      fc.property(printable, (key) => {
        const header = `"${key.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
        expect(parseIdempotencyKey(header)).toBe(key);
      }),
    );
  });

  it('never accepts a value containing a control or non-ASCII character', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 20 }),
        fc.oneof(
          fc.integer({ min: 0, max: 0x1f }),
          fc.integer({ min: 0x7f, max: 0xffff }).filter((c) => c < 0xd800 || c > 0xdfff),
        ),
        fc.string({ maxLength: 20 }),
        (a, bad, b) => {
          const key = `${a}${String.fromCharCode(bad)}${b}`;
          expect(reason(`"${key}"`)).not.toBe('ok');
          if (bad !== 0x09) expect(reason(key)).not.toBe('ok');
        },
      ),
    );
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level and agrees with JSON.parse', () => {
    expect(canonicalJson({ b: [2, { d: 1, c: null }], a: 'x', u: undefined })).toBe(
      '{"a":"x","b":[2,{"c":null,"d":1}]}',
    );
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
        // Independent of key order: a reversed-order copy has the same canonical form.
        const reversed = JSON.parse(JSON.stringify(value), (_k, v) =>
          v && typeof v === 'object' && !Array.isArray(v)
            ? Object.fromEntries(Object.entries(v).reverse())
            : v,
        );
        expect(canonicalJson(reversed)).toBe(text);
      }),
    );
  });
});
