import { describe, expect, it } from 'vitest';
import * as errors from '../src/errors.js';
import { DomainError, HttpError, SeatLockedError } from '../src/errors.js';
import { domainStatusOf, toHttpError } from '../src/http/error-handler.js';

type DomainClass = new (...args: never[]) => DomainError;
const domainClasses = (Object.entries(errors) as [string, unknown][]).filter(
  (entry): entry is [string, DomainClass] =>
    typeof entry[1] === 'function' &&
    entry[1].prototype instanceof DomainError &&
    !(entry[1].prototype instanceof HttpError) &&
    entry[1] !== HttpError,
);

describe('business refusals and their HTTP status', () => {
  it('finds the domain classes (the filter below is not vacuous)', () => {
    expect(domainClasses.map(([name]) => name)).toContain('SeatLockedError');
    expect(domainClasses.length).toBeGreaterThanOrEqual(8);
  });

  it.each(domainClasses)('%s has a 4xx status in the HTTP layer', (_name, Class) => {
    const status = domainStatusOf(Object.create(Class.prototype) as DomainError);
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(500);
  });

  it('a refusal keeps its code, title, detail and extensions as a problem', () => {
    const http = toHttpError(new SeatLockedError([3, 4]));
    expect(http).toMatchObject({
      status: 409,
      code: 'seat-locked',
      title: 'A seat is held by someone else',
      message: 'seats 3, 4 are already held; try other seats or later',
      extensions: { seatIds: [3, 4] },
    });
  });

  it('a domain class the table does not know is an unexpected error (500), not a guess', () => {
    class Unmapped extends DomainError {}
    expect(toHttpError(new Unmapped('x', 'X'))).toBeNull();
  });
});
