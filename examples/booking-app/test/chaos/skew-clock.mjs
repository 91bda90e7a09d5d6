// Test-only preload (`node --import <this file> dist/server.js`): shifts this process's wall clock
// by SKEW_MS milliseconds (negative = behind). Date.now() and `new Date()` move; explicit dates,
// performance.now() and timers do not. Redis TIME and PostgreSQL now() are not affected.
const skew = Number(process.env.SKEW_MS ?? '0');
if (!Number.isFinite(skew)) throw new Error(`SKEW_MS must be a number, got ${process.env.SKEW_MS}`);
const RealDate = globalThis.Date;

class SkewedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(RealDate.now() + skew);
    else super(...args);
  }

  static now() {
    return RealDate.now() + skew;
  }
}

globalThis.Date = SkewedDate;
