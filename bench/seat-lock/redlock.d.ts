// redlock 5.0.0-beta.2 ships types, but its `exports` map does not point at them, so TypeScript's
// NodeNext resolution cannot find them: the part of its API this benchmark uses.
declare module 'redlock' {
  import type { Redis } from 'ioredis';

  export interface Lock {
    release(): Promise<unknown>;
  }

  export default class Redlock {
    constructor(
      clients: Redis[],
      settings?: { retryCount?: number; retryDelay?: number; retryJitter?: number },
    );
    acquire(resources: string[], duration: number): Promise<Lock>;
    on(event: 'error', listener: (error: unknown) => void): this;
  }
}
