import fc from 'fast-check';

// fast-check arbitraries the fuzz suites share (test-only: `@boxoffice/internal/fuzz`, never
// bundled into a package, since index.ts does not export it).

/** Characters validators get wrong: NUL and controls, quotes and escapes, braces (hash tags), bidi and BOM marks, combining marks, emoji. */
const NASTY_CHARS = [
  '\u0000',
  '\u0001',
  '\n',
  '"',
  '\\',
  ';',
  ',',
  '%',
  '*',
  '{',
  '}',
  '{}',
  '\u202e',
  '\ufeff',
  'e\u0301',
  '😀',
];

/**
 * Strings a validator may get wrong: arbitrary UTF-16 (lone surrogates included), mixes of
 * {@link NASTY_CHARS}, and long ones (`minLong`..`maxLong` characters).
 */
export function nastyString({ minLong = 200, maxLong = 70_000 } = {}): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: 'binary', maxLength: 24 }),
    fc
      .array(
        fc.oneof(
          fc.constantFrom(...NASTY_CHARS),
          fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
          fc.string({ maxLength: 4 }),
        ),
        { maxLength: 8 },
      )
      .map((parts) => parts.join('')),
    fc.integer({ min: minLong, max: maxLong }).map((n) => 'x'.repeat(n)),
  );
}

/** A value of any type, with the numbers that break arithmetic, in place of what an API expects. */
export function hostile(strings: fc.Arbitrary<string> = nastyString()): fc.Arbitrary<unknown> {
  return fc.oneof(
    strings,
    fc.constantFrom(
      Number.NaN,
      Infinity,
      -Infinity,
      -0,
      -1,
      0,
      0.5,
      2 ** 31,
      2 ** 31 + 1,
      2 ** 53,
      1e308,
    ),
    fc.double(),
    fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
    fc.bigInt(),
    fc.constantFrom(null, undefined, true, Symbol('s'), () => 1, new Date(Number.NaN)),
    fc.object({ maxDepth: 1 }),
    fc.array(fc.string(), { maxLength: 3 }),
  );
}

/** Mostly absent, sometimes `arb`: an optional argument or field. */
export const maybe = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
