/** No Redis could be found or started; the message lists every way to get one. */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
  readonly code = 'ERR_REDIS_UNAVAILABLE';
  /** What was tried, in order, and why each failed. */
  readonly attempts: readonly string[];

  constructor(attempts: readonly string[]) {
    super(
      [
        'No Redis server available. Tried:',
        ...attempts.map((a) => `  - ${a}`),
        'Fix one of these:',
        '  - set REDIS_URL=redis://host:port to use a server you run',
        '  - start one on the default port: redis-server --port 6379 --save "" --appendonly no',
        '  - install redis-server on PATH (Debian/Ubuntu: apt-get install redis-server redis-tools;',
        '    macOS: brew install redis) and it will be spawned on a free port',
        '  - run a Docker engine; a redis:7 container is then started with testcontainers',
      ].join('\n'),
    );
    this.attempts = attempts;
  }
}

/** A spawned `redis-server`/`redis-cli` process failed to start or to do its job. */
export class RedisProcessError extends Error {
  override readonly name = 'RedisProcessError';
  readonly code = 'ERR_REDIS_PROCESS';
  /** The command that failed and the tail of what it printed. */
  readonly command: string;
  readonly output: string;

  constructor(message: string, command: string, output: string) {
    super(`${message}\ncommand: ${command}\noutput:\n${output.slice(-2000)}`);
    this.command = command;
    this.output = output;
  }
}
