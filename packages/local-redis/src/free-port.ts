import { createServer } from 'node:net';

function isFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

const taken = new Set<number>();

/**
 * A TCP port on `host` that is free now, and whose `port + busOffset` is free too when `busOffset`
 * is given (a Cluster node also listens on its bus port, port + 10000). Ports handed out in this
 * process are never handed out twice, so parallel spawns do not race for the same one.
 */
export async function freePort(host = '127.0.0.1', busOffset?: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    // 20000–39999 keeps port + 10000 under 50000, below the usual ephemeral range (32768+ on
    // Linux overlaps, hence the check of both ports).
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    if (taken.has(port)) continue;
    if (!(await isFree(port, host))) continue;
    if (busOffset !== undefined && !(await isFree(port + busOffset, host))) continue;
    taken.add(port);
    return port;
  }
  throw new Error(`no free TCP port found on ${host} after 200 attempts`);
}
