// The Express app process the idempotency benchmark loads (run.ts spawns it and drives it with
// autocannon from its own process). One trivial JSON handler behind four front ends:
//   /bare  no idempotency           /bo  @boxoffice/idempotency (ioredis)
//   /ni    @node-idempotency/core + storage-adapter-redis (node-redis v4), minimal Express wrapper
//   /ei    express-idempotency + express-idempotency-redis-adapter (@redis/client)
// GET /calls returns how often each handler ran, so run.ts can check that replays skipped it;
// GET /cpu the process's CPU time.
import type { AddressInfo } from 'node:net';
import { IdempotencyStore, idempotency } from '@boxoffice/idempotency';
import { Idempotency, IdempotencyError } from '@node-idempotency/core';
import { RedisStorageAdapter } from '@node-idempotency/storage-adapter-redis';
import express, { type Request, type Response } from 'express';
import {
  idempotency as expressIdempotency,
  getSharedIdempotencyService,
} from 'express-idempotency';
import redisAdapterModule from 'express-idempotency-redis-adapter';
import { Redis } from 'ioredis';

const url = process.env.BENCH_REDIS_URL as string;
const prefix = process.env.BENCH_PREFIX as string;
const calls: Record<string, number> = { bare: 0, bo: 0, ni: 0, ei: 0 };

const handler = (name: string) => (req: Request, res: Response) => {
  calls[name] = (calls[name] ?? 0) + 1;
  res.json({ id: 'pay_42', status: 'succeeded', amount: req.body?.amount ?? 0, currency: 'KRW' });
};

const app = express();
app.get('/calls', (_req, res) => {
  res.json(calls);
});
// CPU time this process has used (µs): per-request CPU cost is far less sensitive than throughput
// to other processes competing for the same cores.
app.get('/cpu', (_req, res) => {
  const { user, system } = process.cpuUsage();
  res.json({ us: user + system });
});

app.post('/bare', express.json(), handler('bare'));

// --- boxoffice
const client = new Redis(url, { enableAutoPipelining: process.env.BENCH_AUTOPIPELINING !== '0' });
const store = new IdempotencyStore(client, { prefix, retentionSec: 600 });
app.post('/bo', express.json(), idempotency({ store }), handler('bo'));

// --- @node-idempotency: its core has no Express binding, so the usual minimal wrapper.
const niStorage = new RedisStorageAdapter({ url });
await niStorage.connect();
const ni = new Idempotency(niStorage, { cacheKeyPrefix: `${prefix}-ni`, cacheTTLMS: 600_000 });
app.post(
  '/ni',
  express.json(),
  async (req, res, next) => {
    const params = {
      headers: req.headers as Record<string, unknown>,
      path: req.path,
      method: req.method,
      body: req.body,
    };
    try {
      const cached = await ni.onRequest<unknown, unknown>(params);
      if (cached) {
        res.status(Number(cached.additional?.status ?? 200)).json(cached.body);
        return;
      }
    } catch (error) {
      if (error instanceof IdempotencyError) {
        res.status(409).json({ error: error.message });
        return;
      }
      next(error);
      return;
    }
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      ni.onResponse(params, { body, additional: { status: res.statusCode } }).then(
        () => json(body),
        () => json(body),
      );
      return res;
    };
    next();
  },
  handler('ni'),
);

// --- express-idempotency: the handler must ask whether the middleware already answered.
// A CommonJS module with `exports.default`: under ESM interop the class is on `.default`.
const RedisAdapter = redisAdapterModule.default;
const eiAdapter = new RedisAdapter({ connectionConfig: { url }, ttl: 600 });
await eiAdapter.connect();
app.post('/ei', express.json(), expressIdempotency({ dataAdapter: eiAdapter }), (req, res) => {
  if (getSharedIdempotencyService().isHit(req)) return;
  handler('ei')(req, res);
});

const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`ready ${(server.address() as AddressInfo).port}\n`);
});

process.on('SIGTERM', () => {
  server.close();
  process.exit(0);
});
