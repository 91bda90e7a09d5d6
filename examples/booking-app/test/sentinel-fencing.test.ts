import { startSentinelGroup } from '@boxoffice/local-redis';
import { SeatLock } from '@boxoffice/seat-lock';
import { PGlite } from '@electric-sql/pglite';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';

// What asynchronous replication can lose, shown on purpose: a lock taken on the master just before a
// failover that its replica never received. The replica is cut off first (REPLICAOF an address where
// nothing listens: it keeps its data but receives no more writes), so the loss is certain, not a
// race. Sentinel then promotes it; the old master becomes its replica and drops the lock.
describe('seat lock across a Sentinel failover that loses the lock', () => {
  it('a second holder gets the seat; the fenced UPDATE lets only one of them write', async () => {
    const [group, db] = await Promise.all([startSentinelGroup(), PGlite.create()]);
    const client = new Redis({
      sentinels: [...group.sentinels],
      name: group.masterName,
      failoverDetector: true,
      maxRetriesPerRequest: 1,
    });
    client.on('error', () => {}); // reconnects through the failover are expected
    try {
      await db.exec(`CREATE TABLE seats (id text PRIMARY KEY, holder text, fence bigint NOT NULL);
                     INSERT INTO seats VALUES ('A1', NULL, 0)`);
      // The guard from the seat-lock README: a write with a fence not above the stored one is refused.
      const write = async (holder: string, fence: bigint) =>
        (
          await db.query('UPDATE seats SET holder = $1, fence = $2 WHERE id = $3 AND fence < $2', [
            holder,
            fence.toString(),
            'A1',
          ])
        ).affectedRows;
      const locks = new SeatLock(client, { prefix: 'fencing', ttlMs: 60_000 });

      const master = await group.master();
      const replica = group.servers.find((s) => s.port !== master.port);
      if (!replica) throw new Error('no replica in the group');
      const replicaClient = new Redis(replica.port, replica.host);
      // Nothing listens on port 1: the replica keeps what it has and stops receiving writes.
      await replicaClient.replicaof('127.0.0.1', 1);

      const stale = await locks.tryAcquire(['A1']);
      expect(stale).not.toBeNull();
      expect(await client.exists('fencing:lock:{A1}')).toBe(1);
      expect(await replicaClient.exists('fencing:lock:{A1}')).toBe(0); // never replicated

      const switched = await group.failover();
      replicaClient.disconnect();
      expect(switched.to.port).toBe(replica.port);
      const reconnecting = Date.now();
      // SeatLock fails fast while its client reconnects (→ 503 in the app); wait for the new master.
      for (
        let i = 0;
        client.status !== 'ready' || (await client.ping().catch(() => '')) !== 'PONG';
        i++
      ) {
        if (i > 200) throw new Error(`client never reconnected (${client.status})`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }

      const reconnectedMs = Date.now() - reconnecting;
      // The lock was lost with the old master: a second process gets the same seat.
      const fresh = await new SeatLock(client, { prefix: 'fencing', ttlMs: 60_000 }).acquire(
        ['A1'],
        { waitMs: 10_000 },
      );
      expect(fresh.token).not.toBe(stale?.token);
      // The fence counter's increment was lost too, so the new fence is not above the stale one:
      // fences order holders within one Redis history, and a failover that loses writes can repeat
      // a value. The strict `<` makes a repeated fence lose to whoever wrote first.
      expect(fresh.fence <= (stale?.fence ?? 0n)).toBe(true);

      // The new holder writes first; the stale holder, waking up from its pause, is refused.
      expect(await write('fresh', fresh.fence)).toBe(1);
      expect(await write('stale', stale?.fence ?? 0n)).toBe(0);
      const row = await db.query<{ holder: string }>(`SELECT holder FROM seats WHERE id = 'A1'`);
      expect(row.rows[0]?.holder).toBe('fresh');
      // And the stale lease knows it is stale as soon as it talks to Redis again.
      expect(await stale?.release()).toBe(false);
      console.log(
        `[sentinel fencing] lock on ${switched.from.port} lost by the failover to ${switched.to.port} ` +
          `(${switched.elapsedMs} ms; client ready ${reconnectedMs} ms later); stale fence ${stale?.fence}, new fence ${fresh.fence}: ` +
          'new holder wrote, stale holder refused by the fenced UPDATE',
      );
      await fresh.release();
      await locks.close();
    } finally {
      client.disconnect();
      await db.close();
      await group.stop();
    }
  }, 60_000);
});
