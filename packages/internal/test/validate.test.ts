import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bracesBalanced, check, keyPart, keyPrefix, sleep } from '../src/index.js';

describe('check', () => {
  it('integer names the parameter and the value', () => {
    expect(() => check.integer('ttlMs', -5, { min: 1 })).toThrow(
      new RangeError('ttlMs must be an integer >= 1, got -5'),
    );
    expect(() => check.integer('ttlMs', 1.5)).toThrow(TypeError);
    expect(() => check.integer('ttlMs', '5')).toThrow('ttlMs must be an integer, got "5"');
    expect(() => check.integer('n', 11, { min: 1, max: 10 })).toThrow(
      'n must be an integer in [1, 10], got 11',
    );
    expect(check.integer('n', 10, { min: 1, max: 10 })).toBe(10);
  });

  it('integer accepts exactly the safe integers in range', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const ok = typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
        let threw = false;
        try {
          check.integer('x', value);
        } catch (error) {
          threw = true;
          expect(error instanceof TypeError || error instanceof RangeError).toBe(true);
        }
        expect(threw).toBe(!ok);
      }),
    );
  });

  it('openInterval refuses the bounds and NaN', () => {
    expect(() => check.openInterval('epsilon', 0, 0, 1)).toThrow(RangeError);
    expect(() => check.openInterval('epsilon', 1, 0, 1)).toThrow(RangeError);
    expect(() => check.openInterval('epsilon', Number.NaN, 0, 1)).toThrow(TypeError);
    expect(check.openInterval('epsilon', 0.001, 0, 1)).toBe(0.001);
  });

  it('text checks length in bytes and printability', () => {
    expect(() => check.text('id', '')).toThrow('id must not be empty');
    expect(() => check.text('id', 'é'.repeat(300))).toThrow(
      'id must be at most 512 bytes, got 600',
    );
    expect(() => check.text('id', 'a\nb', { printable: true })).toThrow(TypeError);
    expect(() => check.text('id', '\ud800', { printable: true })).toThrow(TypeError);
    expect(check.text('id', '사용자-1', { printable: true })).toBe('사용자-1');
  });

  it('text and isWellFormed refuse lone surrogates, which UTF-8 would turn into the same U+FFFD', () => {
    expect(Buffer.from('A\ud800').equals(Buffer.from('A\udc00'))).toBe(true); // why it matters
    expect(check.isWellFormed('A\ud83c\udfab')).toBe(true); // a surrogate pair (🎫) is fine
    expect(check.text('item', 'A\ud83c\udfab')).toBe('A\ud83c\udfab');
    for (const lone of ['A\ud800', '\udc00B', 'x\udfab\ud83c']) {
      expect(check.isWellFormed(lone)).toBe(false);
      expect(() => check.text('item', lone)).toThrow(/item must be well-formed Unicode/);
    }
  });

  it('mergeOptions freezes, fills defaults and refuses unknown keys', () => {
    const defaults = Object.freeze({ ttlMs: 1000, prefix: 'bo' });
    const merged = check.mergeOptions('SeatLock options', defaults, {
      ttlMs: 5,
      prefix: undefined,
    });
    expect(merged).toEqual({ ttlMs: 5, prefix: 'bo' });
    expect(Object.isFrozen(merged)).toBe(true);
    expect(() => check.mergeOptions('SeatLock options', defaults, { tllMs: 5 })).toThrow(
      "SeatLock options: unknown option 'tllMs' (known: ttlMs, prefix)",
    );
    expect(() => check.mergeOptions('o', defaults, [])).toThrow(
      'o must be an object, got array(0)',
    );
    expect(() => check.mergeOptions('o', defaults, new Date())).toThrow(/plain object/);
    expect(check.mergeOptions('o', defaults, undefined)).toEqual(defaults);
  });

  it('oneOf, date, boolean, func, optionalSignal', () => {
    expect(check.oneOf('alg', 'HS256', ['HS256', 'EdDSA'])).toBe('HS256');
    expect(() => check.oneOf('alg', 'none', ['HS256', 'EdDSA'])).toThrow(
      "alg must be one of 'HS256', 'EdDSA', got \"none\"",
    );
    expect(() => check.date('at', new Date('x'))).toThrow(TypeError);
    expect(() => check.boolean('b', 1)).toThrow(TypeError);
    expect(() => check.func('f', {})).toThrow(TypeError);
    expect(() => check.optionalSignal('signal', {})).toThrow(TypeError);
    expect(check.optionalSignal('signal', undefined)).toBeUndefined();
  });
});

describe('key rules', () => {
  it('keyPrefix allows [A-Za-z0-9_:.-] only', () => {
    expect(keyPrefix('prefix', 'bo:test-1.x')).toBe('bo:test-1.x');
    expect(() => keyPrefix('prefix', 'bo{x}')).toThrow(TypeError);
    expect(() => keyPrefix('prefix', 'a b')).toThrow(TypeError);
  });

  it('keyPart keeps balanced tags and refuses unbalanced or nested braces', () => {
    expect(keyPart('seat', '{concert-1}:A1')).toBe('{concert-1}:A1');
    for (const bad of ['{a', 'a}', '}{', '{{a}}', '{a}{'])
      expect(() => keyPart('seat', bad)).toThrow(/unbalanced/);
    expect(() => keyPart('seat', 'x'.repeat(513))).toThrow(RangeError);
  });

  it('bracesBalanced matches a reference on random strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('{', '}', 'a') }), (s) => {
        let depth = 0;
        let ok = true;
        for (const ch of s) {
          if (ch === '{') depth++;
          if (ch === '}') depth--;
          if (depth < 0 || depth > 1) ok = false;
        }
        expect(bracesBalanced(s)).toBe(ok && depth === 0);
      }),
    );
  });
});

describe('sleep', () => {
  it('rejects with the abort reason', async () => {
    const controller = new AbortController();
    const pending = sleep(60_000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
    await expect(sleep(1, AbortSignal.abort())).rejects.toMatchObject({ name: 'AbortError' });
  });
});
