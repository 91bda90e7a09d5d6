import { pino } from 'pino';
import pinoPretty from 'pino-pretty';

/** How log lines look: JSON (one object a line, for machines) or pretty (for a person at a terminal). */
export type LogFormat = 'json' | 'pretty';

/**
 * The app's logger (one line per event, `service` on every line), to stdout unless a `destination`
 * is given. `pretty` (the demo in a terminal) writes coloured, readable lines instead of JSON.
 */
export function createLogger(
  level: pino.LevelWithSilent = 'info',
  destination?: pino.DestinationStream,
  format: LogFormat = 'json',
): pino.Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'booking-app', pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: ['req.headers.authorization', 'req.headers.cookie', 'req.query.access_token'],
  };
  if (format === 'pretty') {
    const pretty = pinoPretty({
      colorize: destination === undefined && process.stdout.isTTY === true,
      translateTime: 'SYS:HH:MM:ss',
      ignore: 'pid,hostname,service',
      sync: true,
      ...(destination ? { destination } : {}),
    });
    return pino(options, pretty);
  }
  return destination ? pino(options, destination) : pino(options);
}

/** Query parameters whose value is a credential (by decoded name; `access_token[]` too). */
const TOKEN_PARAM = /^access_token(?:\[|$)/i;

/** A query parameter's name as Express's parser sees it (`access%5Ftoken` is `access_token`). */
function decodedName(part: string): string {
  const name = part.split('=', 1)[0] ?? '';
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return name;
  }
}

/**
 * The request log's `req` serializer: the logged URL without the value of any `access_token` parameter
 * (EventSource cannot send an Authorization header, so the SSE route takes the token in the query
 * string), in the URL and in the parsed `query`. Names are compared decoded, as the query parser reads them, so an encoded name such as
 * `access%5Ftoken` is redacted too.
 */
export function withoutUrlTokens<T extends { url?: string; query?: unknown }>(req: T): T {
  if (req.query && typeof req.query === 'object') {
    // A copy: the serialized request shares `query` with the live one, which the route still reads.
    const query: Record<string, unknown> = { ...(req.query as Record<string, unknown>) };
    for (const key of Object.keys(query)) if (TOKEN_PARAM.test(key)) query[key] = '[Redacted]';
    req.query = query;
  }
  const at = req.url?.indexOf('?') ?? -1;
  if (!req.url || at < 0) return req;
  const parts = req.url.slice(at + 1).split('&');
  if (!parts.some((part) => TOKEN_PARAM.test(decodedName(part)))) return req;
  const query = parts.map((part) =>
    TOKEN_PARAM.test(decodedName(part)) ? `${part.split('=', 1)[0]}=[Redacted]` : part,
  );
  req.url = `${req.url.slice(0, at)}?${query.join('&')}`;
  return req;
}
