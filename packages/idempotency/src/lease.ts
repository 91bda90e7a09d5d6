import type { RedisScript } from '@boxoffice/internal';
import type { Renewer } from './renewer.js';
import { scripts } from './scripts.js';

/** What a {@link Lease} needs from its store. @internal */
export interface LeaseBackend {
  readonly leaseMs: number;
  readonly retentionSec: number;
  readonly renewer: Renewer;
  exec(
    operation: string,
    script: RedisScript,
    key: string,
    args: (string | number | Buffer)[],
  ): Promise<unknown>;
}

/** A result to store for a claimed key. */
export interface ResultToStore {
  /** HTTP status, or 0 for a `store.run` value. @defaultValue 0 */
  status?: number;
  /** Headers replayed with the result. @defaultValue {} */
  headers?: Record<string, string | string[]>;
  /** The body bytes. @defaultValue empty */
  body?: Buffer;
}

/** Options of {@link Lease.keepAlive}. */
export interface KeepAliveOptions {
  /** Stop renewing after this long (the lease then lapses within `leaseMs`). @defaultValue Infinity */
  maxMs?: number;
  /** Called once when a renewal finds that the claim was lost (taken over or released). */
  onLost?: () => void;
  /** Called when a renewal fails (Redis error); renewal goes on. */
  onError?: (error: unknown) => void;
}

/**
 * An owned claim on an idempotency key, returned by `IdempotencyStore.claim`. Exactly one of
 * {@link complete} or {@link release} should follow; until then the lease must be renewed (see
 * {@link keepAlive}) or it lapses after `leaseMs` and the next caller takes the key over.
 */
export class Lease {
  /** @internal */
  constructor(
    private readonly backend: LeaseBackend,
    /** The Redis key of the record. */
    readonly redisKey: string,
    /** The caller's idempotency key. */
    readonly key: string,
    readonly scope: string,
    /** Random owner token of this claim. */
    readonly token: string,
    /** 1 for the first claim of the key, n > 1 when the previous owner's lease lapsed. */
    readonly attempt: number,
    /** When the lease lapses unless renewed (ms since the epoch, Redis server time). */
    public leaseUntil: number,
  ) {}

  /** True when a previous owner's lease lapsed and this claim took the key over. */
  get takenOver(): boolean {
    return this.attempt > 1;
  }

  /** Extend the lease by `leaseMs`; false when the claim was lost (taken over or released). */
  async renew(): Promise<boolean> {
    const until = Number(
      await this.backend.exec('renew', scripts.renew, this.redisKey, [
        this.token,
        this.backend.leaseMs,
      ]),
    );
    if (until > 0) this.leaseUntil = until;
    return until > 0;
  }

  /**
   * Store the result and start its retention. Returns when it expires (ms since the epoch), or
   * `null` when this claim was lost: a lapsed owner never overwrites a newer owner's record.
   */
  async complete(result: ResultToStore = {}): Promise<number | null> {
    const expiresAt = Number(
      await this.backend.exec('complete', scripts.complete, this.redisKey, [
        this.token,
        result.status ?? 0,
        JSON.stringify(result.headers ?? {}),
        result.body ?? '',
        this.backend.retentionSec,
      ]),
    );
    return expiresAt > 0 ? expiresAt : null;
  }

  /** Delete the claim so that a retry runs again; false when the claim was already lost. */
  async release(): Promise<boolean> {
    return (
      Number(await this.backend.exec('release', scripts.release, this.redisKey, [this.token])) === 1
    );
  }

  /**
   * Renew the lease about every `leaseMs / 3` until the returned function is called (or `maxMs`
   * passes, or the claim is found lost). One timer per store serves all its leases and does not
   * keep the process alive.
   */
  keepAlive(options: KeepAliveOptions = {}): () => void {
    const now = Date.now();
    return this.backend.renewer.add({
      startedAt: now,
      renewedAt: now,
      maxMs: options.maxMs ?? Number.POSITIVE_INFINITY,
      busy: false,
      renew: () => this.renew(),
      onLost: options.onLost,
      onError: options.onError,
    });
  }
}
