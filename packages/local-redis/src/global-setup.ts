import type { TestProject } from 'vitest/node';
import { startCluster } from './cluster.js';
import { getRedis } from './standalone.js';
import type { ProvidedRedis } from './testing.js';

/**
 * vitest `globalSetup`: finds or starts one standalone Redis and one 3-master Cluster for the whole
 * run, hands their addresses to the tests (`inject('boxofficeRedis')`, used by `redisTargets()`),
 * and stops what it started when the run ends.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const standalone = await getRedis();
  const cluster = await startCluster({ masters: 3 });
  const provided: ProvidedRedis = {
    standaloneUrl: standalone.url,
    clusterNodes: cluster.nodes.map(({ host, port }) => ({ host, port })),
  };
  project.provide('boxofficeRedis', provided);
  const nodes = cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',');
  console.log(
    `[local-redis] standalone: ${standalone.url} (${standalone.source}); ` +
      `cluster: ${nodes} (${cluster.source}, ${cluster.nodes.length} masters)`,
  );
  return async () => {
    await cluster.stop();
    await standalone.stop();
  };
}
