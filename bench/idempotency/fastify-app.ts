// The Fastify app process of the idempotency benchmark, beside the Express one (app.ts): run.ts
// spawns both and drives them in turn. The same trivial JSON handler behind two routes:
//   /bare  no idempotency           /bo  @boxoffice/idempotency/fastify (ioredis)
// on the same store options as app.ts's /bo. Fastify parses JSON bodies itself (no schema on
// either side: the reply is serialised with JSON.stringify, as Express's res.json does).
// GET /calls returns how often each handler ran; GET /cpu the process's CPU time.
import { IdempotencyStore } from '@boxoffice/idempotency';
import { idempotency } from '@boxoffice/idempotency/fastify';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';

const url = process.env.BENCH_REDIS_URL as string;
const prefix = process.env.BENCH_PREFIX as string;
const calls: Record<string, number> = { fbare: 0, fbo: 0 };

const handler =
  (name: string) =>
  async (
    request: FastifyRequest<{ Body: { amount?: number } | undefined }>,
    _reply: FastifyReply,
  ) => {
    calls[name] = (calls[name] ?? 0) + 1;
    return {
      id: 'pay_42',
      status: 'succeeded',
      amount: request.body?.amount ?? 0,
      currency: 'KRW',
    };
  };

const app = Fastify();
app.get('/calls', async () => calls);
app.get('/cpu', async () => {
  const { user, system } = process.cpuUsage();
  return { us: user + system };
});

app.post('/bare', handler('fbare'));

// --- boxoffice: guarded in a scope of its own, so /bare, /calls and /cpu stay unguarded.
const client = new Redis(url, { enableAutoPipelining: process.env.BENCH_AUTOPIPELINING !== '0' });
const store = new IdempotencyStore(client, { prefix, retentionSec: 600 });
await app.register(async (scope) => {
  await scope.register(idempotency, { store });
  scope.post('/bo', handler('fbo'));
});

await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
process.stdout.write(`ready ${typeof address === 'object' && address ? address.port : 0}\n`);

process.on('SIGTERM', () => {
  app.server.close();
  process.exit(0);
});
