import { existsSync } from 'node:fs';

/** A Redis container started through testcontainers. */
export interface DockerRedis {
  readonly url: string;
  stop(): Promise<void>;
}

/** Why Docker cannot be used, or null when an engine may be there (a socket or DOCKER_HOST). */
export function dockerUnavailableReason(): string | null {
  if (process.env.DOCKER_HOST) return null;
  if (existsSync('/var/run/docker.sock')) return null;
  return 'no Docker engine (DOCKER_HOST unset, /var/run/docker.sock missing)';
}

/**
 * Start `redis:7` with testcontainers. testcontainers is an optional dependency and is only loaded
 * here, so machines without Docker never pay for it.
 */
export async function startDockerRedis(image = 'redis:7'): Promise<DockerRedis> {
  const { GenericContainer } = await import('testcontainers');
  const container = await new GenericContainer(image).withExposedPorts(6379).start();
  return {
    url: `redis://${container.getHost()}:${container.getMappedPort(6379)}`,
    async stop() {
      await container.stop();
    },
  };
}
