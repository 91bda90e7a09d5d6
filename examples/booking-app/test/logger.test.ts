import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/observability/logger.js';

/** A stream that keeps what is written to it. */
const sink = () => {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
};

describe('createLogger', () => {
  it('json: one JSON object a line with the service name', () => {
    const out = sink();
    createLogger('info', out.stream).info({ seat: 7 }, 'seat held');
    const line = JSON.parse(out.text());
    expect(line).toMatchObject({ level: 30, service: 'booking-app', seat: 7, msg: 'seat held' });
  });

  it('pretty: a readable line (time, level, message, fields), not JSON, without pid or service', () => {
    const out = sink();
    const logger = createLogger('info', out.stream, 'pretty');
    logger.info({ seat: 7 }, 'seat held');
    logger.debug('not at info');
    const text = out.text();
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\] INFO: seat held\n\s+seat: 7\n$/);
    expect(text).not.toContain('booking-app');
    expect(() => JSON.parse(text)).toThrow();
  });
});
