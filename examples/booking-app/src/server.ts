import { getRedis } from '@boxoffice/local-redis';
import { Redis } from 'ioredis';
import { createApp } from './app.js';

// Demo entry point: find or start a real Redis, then serve on PORT (default 3000).
const server = await getRedis();
const redis = new Redis(server.url);
const app = createApp({ redis, redisDescription: `${server.url} (${server.source})` });
const port = Number(process.env.PORT ?? 3000);

const http = app.listen(port, () => {
  const address = http.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  console.log(`boxoffice demo listening on http://localhost:${actual}`);
  console.log(`using Redis ${server.url} (${server.source})`);
});
http.on('error', (error) => {
  console.error(`cannot listen on port ${port}: ${error.message} (set PORT to another port)`);
  process.exit(1);
});

async function shutdown(): Promise<void> {
  http.close();
  redis.disconnect();
  await server.stop();
  process.exit(0);
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
