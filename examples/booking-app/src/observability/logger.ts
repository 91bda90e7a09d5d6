import { pino } from 'pino';

/**
 * The app's JSON logger (one line per event, `service` on every line), to stdout unless a
 * `destination` is given.
 */
export function createLogger(
  level: pino.LevelWithSilent = 'info',
  destination?: pino.DestinationStream,
): pino.Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'booking-app', pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: ['req.headers.authorization', 'req.headers.cookie', 'req.query.access_token'],
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * pino-http `req` serializer: the logged URL without the value of `access_token` (EventSource
 * cannot send an Authorization header, so the SSE route takes the token in the query string).
 */
export function withoutUrlTokens<T extends { url?: string }>(req: T): T {
  if (req.url?.includes('access_token=')) {
    req.url = req.url.replace(/([?&]access_token=)[^&#]*/g, '$1[Redacted]');
  }
  return req;
}
