/**
 * A connection string fit for logs and `/`: scheme, host, port and path only. User, password and
 * the query (which may carry `password=`, `sslkey=`, …) are dropped, so no credential of Redis or
 * PostgreSQL is ever shown or logged. An unparsable string is not echoed at all.
 */
export function describeConnection(url: string, what = 'connection string'): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return `${what} (unparsable)`;
  }
}
