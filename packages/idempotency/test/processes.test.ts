import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import express from 'express';
import { describe, expect, inject, it } from 'vitest';
import { IdempotencyStore, idempotency } from '../src/index.js';
import { post, serve, until } from './helpers.js';

// Child processes load the built package (dist) by its name, as a user would.
const packageDir = join(import.meta.dirname, '..');
if (!existsSync(join(packageDir, 'dist', 'index.js'))) {
  throw new Error('build @boxoffice/idempotency first (npx tsup in its directory, or npm test)');
}

const CONNECT = `
import { Cluster, Redis } from 'ioredis';
const env = JSON.parse(process.env.IDEM_TEST);
const client = env.target === 'cluster' ? new Cluster(env.nodes) : new Redis(env.url);
`;

const RUN_WORKER = `${CONNECT}
import { IdempotencyStore } from '@boxoffice/idempotency';
const store = new IdempotencyStore(client, { prefix: env.prefix });
const results = await Promise.all(env.keys.map((key) =>
  store.run(key, { waitMs: 25_000 }, async () => {
    await client.incr(env.prefix + ':runs:' + key);
    await new Promise((r) => setTimeout(r, 50));
    return { pid: process.pid, key };
  })));
process.stdout.write(JSON.stringify(results));
await client.quit();
`;

const HTTP_SERVER = `${CONNECT}
import express from 'express';
import { IdempotencyStore, idempotency } from '@boxoffice/idempotency';
const store = new IdempotencyStore(client, { prefix: env.prefix, leaseMs: 1000 });
const app = express();
app.post('/pay', express.json(), idempotency({ store }), () => {
  process.stdout.write('handling\\n'); // and never respond: the process is killed here
});
const server = app.listen(0, '127.0.0.1', () => process.stdout.write('port ' + server.address().port + '\\n'));
`;

function child(
  script: string,
  env: object,
): { proc: ChildProcess; output: () => string; exit: Promise<number | null> } {
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: packageDir,
    env: { ...process.env, IDEM_TEST: JSON.stringify(env) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d) => {
    out += d;
  });
  proc.stderr?.on('data', (d) => {
    err += d;
  });
  const exit = new Promise<number | null>((resolve) =>
    proc.on('exit', (code) => {
      if (code) console.error(err);
      resolve(code);
    }),
  );
  return { proc, output: () => out, exit };
}

describe.each(redisTargets())('across processes on $name', (target) => {
  const redis = useRedis(target);
  const where = () => {
    const { standaloneUrl, clusterNodes } = inject('boxofficeRedis');
    return { target: target.name, url: standaloneUrl, nodes: clusterNodes, prefix: redis.prefix };
  };

  it('store.run from two worker processes runs each job once', async () => {
    const keys = Array.from({ length: 10 }, (_, i) => `job-${i}`);
    const workers = [
      child(RUN_WORKER, { ...where(), keys }),
      child(RUN_WORKER, { ...where(), keys }),
    ];
    expect(await Promise.all(workers.map((w) => w.exit))).toEqual([0, 0]);
    const [a, b] = workers.map(
      (w) => JSON.parse(w.output()) as { replayed: boolean; value: { pid: number } }[],
    );
    for (let i = 0; i < keys.length; i++) {
      expect(Number(await redis.client.get(`${redis.prefix}:runs:${keys[i]}`))).toBe(1);
      // Both processes got the value of the one run, exactly one of them as a replay.
      expect(a?.[i]?.value).toEqual(b?.[i]?.value);
      expect([a?.[i]?.replayed, b?.[i]?.replayed].filter(Boolean)).toHaveLength(1);
    }
  });

  it('a killed handler process blocks its key only until the lease lapses', async () => {
    const server = child(HTTP_SERVER, where());
    try {
      await until(() => /port \d+/.test(server.output()));
      const port = /port (\d+)/.exec(server.output())?.[1];
      const key = crypto.randomUUID();
      void post(`http://127.0.0.1:${port}/pay`, key).catch(() => {});
      await until(() => server.output().includes('handling'));
      server.proc.kill('SIGKILL');
      await server.exit;

      const store = new IdempotencyStore(redis.client, { prefix: redis.prefix, leaseMs: 1000 });
      let calls = 0;
      const { url } = await serve((app) => {
        app.post('/pay', express.json(), idempotency({ store }), (_req, res) => {
          calls++;
          res.json({ recovered: true });
        });
      });
      const statuses: number[] = [];
      let last: Response | undefined;
      await until(async () => {
        last = await post(`${url}/pay`, key);
        statuses.push(last.status);
        return last.status !== 409;
      });
      expect(last?.status).toBe(200);
      expect(await last?.json()).toEqual({ recovered: true });
      expect(calls).toBe(1);
      expect(await store.get(key, { scope: '127.0.0.1' })).toMatchObject({
        state: 'done',
        attempt: 2,
      });
      expect(statuses.slice(0, -1).every((s) => s === 409)).toBe(true);
    } finally {
      server.proc.kill('SIGKILL');
    }
  });
});
