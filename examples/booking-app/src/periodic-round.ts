import type { Logger } from 'pino';

/**
 * Runs `round` now and then `everyMs` after each round ends (never two at once), logging a failed
 * round as a warning; `stop()` waits for the round in progress. The loop behind the outbox relay,
 * payment recovery and the hold reaper.
 */
export class PeriodicRound {
  #running = false;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<unknown> | undefined;

  constructor(
    private readonly round: () => Promise<unknown>,
    private readonly everyMs: number,
    private readonly logger: Logger,
    private readonly name: string,
  ) {}

  /** Start the loop (the first round runs now). Idempotent. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    const loop = () => {
      this.#round = this.round()
        .catch((error) => this.logger.warn({ err: error }, `${this.name} round failed`))
        .finally(() => {
          if (this.#running) this.#timer = setTimeout(loop, this.everyMs);
        });
    };
    loop();
  }

  /** Stop the loop and wait for the round in progress. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    await this.#round;
  }
}
