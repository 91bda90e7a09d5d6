import { check, type KeepAlive, type Renewal } from '@boxoffice/internal';
import { IdempotencyStoreUnavailableError } from './errors.js';
import { doneHead, ownerPrefix } from './record.js';
import { type Script, scripts } from './scripts.js';

/** What a {@link Lease} needs from its store. @internal */
export interface LeaseBackend {
  readonly leaseMs: number;
  readonly retentionSec: number;
  /** Time to live of an in-flight record (the lease clock, see record.ts). */
  readonly inFlightTtlMs: number;
  readonly renewer: KeepAlive;
  exec(
    operation: string,
    script: Script,
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

const RESULT_DEFAULTS = Object.freeze({
  status: 0 as unknown,
  headers: {} as unknown,
  body: undefined as unknown,
});

/** Validate the headers of a result: a plain object of strings or string arrays. */
function checkHeaders(value: unknown): Record<string, string | string[]> {
  const headers = check.plainObject('result.headers', value);
  for (const [name, v] of Object.entries(headers)) {
    const ok = typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'));
    if (!ok) {
      throw new TypeError(
        `result.headers[${JSON.stringify(name)}] must be a string or string[], got ${check.show(v)}`,
      );
    }
  }
  return headers as Record<string, string | string[]>;
}

/** How often a release that met an unreachable Redis is tried again in the background. */
const RELEASE_RETRY_MS = 250;

function storedUntil(reply: unknown): number | null {
  const expiresAt = Number(reply);
  return expiresAt > 0 ? expiresAt : null;
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
export class Lease implements Renewal {
  /** @internal */ renewStartedAt = 0;
  /** @internal */ renewMaxMs = 0;
  /** @internal */ renewedAt = 0;
  /** @internal */ renewBusy = false;
  /** @internal */ renewStopped = true;
  /** @internal */ renewSlot = -1;
  /** @internal */ renewOnLost: ((renewal: Renewal) => void) | undefined = undefined;
  /** @internal */ renewOnError: ((error: unknown, renewal: Renewal) => void) | undefined =
    undefined;
  /** Whatever the integration that holds the lease wants to find again in its callbacks. @internal */
  context: unknown = undefined;
  /** What the scripts compare to check that this claim still owns the record. @internal */
  readonly owner: string;

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
    /**
     * When the lease lapses unless renewed (ms since the epoch): Redis server time after a
     * renewal or a takeover; for a new key, this process's clock at the claim plus `leaseMs` (a
     * new key is claimed with a plain `SET`, which reports no time).
     */
    public leaseUntil: number,
    /** The fingerprint the key was claimed with. */
    readonly fingerprint: string,
    /** When the key was first claimed (ms since the epoch; as in `IdempotencyRecord.createdAt`). */
    readonly createdAt: number,
  ) {
    this.owner = ownerPrefix(token);
  }

  /** True when a previous owner's lease lapsed and this claim took the key over. */
  get takenOver(): boolean {
    return this.attempt > 1;
  }

  /** Extend the lease by `leaseMs`; false when the claim was lost (taken over or released). */
  async renew(): Promise<boolean> {
    const until = Number(
      await this.backend.exec('renew', scripts.renew, this.redisKey, [
        this.owner,
        this.backend.inFlightTtlMs,
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
    const r = check.mergeOptions('result', RESULT_DEFAULTS, result);
    const status = check.integer('result.status', r.status, { max: 999 });
    const headers = checkHeaders(r.headers);
    if (r.body !== undefined && !(r.body instanceof Uint8Array)) {
      throw new TypeError(`result.body must be a Buffer, got ${check.show(r.body)}`);
    }
    return this.completeUnchecked(
      status,
      JSON.stringify(headers),
      r.body === undefined ? '' : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body),
    );
  }

  /**
   * {@link complete} without the checks, for callers that built the values themselves (the
   * middleware): `headersJson` is the JSON of the headers, `body` the bytes (a string is stored as
   * its UTF-8 bytes). @internal
   */
  completeUnchecked(
    status: number,
    headersJson: string,
    body: Buffer | string,
  ): Promise<number | null> {
    return this.backend
      .exec('complete', scripts.complete, this.redisKey, [
        this.owner,
        this.backend.retentionSec,
        doneHead(status, this.createdAt, this.attempt, this.fingerprint, headersJson),
        body,
      ])
      .then(storedUntil);
  }

  /**
   * Delete the claim so that a retry runs again; false when the claim was already lost. When Redis
   * cannot be reached it throws, and keeps trying in the background (every 250 ms) until it
   * succeeds or the lease could have lapsed: otherwise the client's retry of a request that
   * failed because Redis was down would find its own key busy for the rest of the lease, long
   * after Redis is back.
   */
  async release(): Promise<boolean> {
    try {
      return await this.#releaseOnce();
    } catch (error) {
      if (error instanceof IdempotencyStoreUnavailableError) this.#releaseLater();
      throw error;
    }
  }

  #releaseOnce(): Promise<boolean> {
    return this.backend
      .exec('release', scripts.release, this.redisKey, [this.owner])
      .then((n) => Number(n) === 1);
  }

  #releaseLater(): void {
    // The lease was last renewed before now, so it lapses before this in any case; after that a
    // new owner may hold the key, and the owner-checked release would do nothing anyway.
    const until = Date.now() + this.backend.leaseMs;
    const retry = () => {
      if (Date.now() >= until) return;
      setTimeout(() => {
        this.#releaseOnce().catch(retry);
      }, RELEASE_RETRY_MS).unref();
    };
    retry();
  }

  /**
   * Renew the lease about every `leaseMs / 3` until the returned function is called (or `maxMs`
   * passes, or the claim is found lost). One timer per store serves all its leases and does not
   * keep the process alive.
   */
  keepAlive(options: KeepAliveOptions = {}): () => void {
    const now = Date.now();
    const { onLost, onError } = options;
    const renewal: Renewal = {
      renewStartedAt: now,
      renewedAt: now,
      renewMaxMs: options.maxMs ?? Number.POSITIVE_INFINITY,
      renewBusy: false,
      renewStopped: false,
      renewSlot: -1,
      renew: () => this.renew(),
      renewOnLost: onLost && (() => onLost()),
      renewOnError: onError && ((error) => onError(error)),
    };
    const { renewer } = this.backend;
    renewer.add(renewal);
    return () => renewer.remove(renewal);
  }

  /**
   * {@link keepAlive} without a closure per call, for the middleware: renews this lease until
   * {@link stopRenewal} (or `maxMs`); `onError(error, lease)` gets renewal failures. @internal
   */
  startRenewal(
    maxMs: number,
    onError: ((error: unknown, renewal: Renewal) => void) | undefined,
  ): void {
    const now = Date.now();
    this.renewStartedAt = now;
    this.renewedAt = now;
    this.renewMaxMs = maxMs;
    this.renewOnError = onError;
    this.backend.renewer.add(this);
  }

  /** Stop what {@link startRenewal} started (idempotent); forgets `context`. @internal */
  stopRenewal(): void {
    this.backend.renewer.remove(this);
    this.context = undefined;
  }
}
