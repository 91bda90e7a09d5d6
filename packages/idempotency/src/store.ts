import { hash, randomUUID } from 'node:crypto';
import {
  check,
  ioredisClient,
  KeepAlive,
  keyPrefix,
  MAX_COMMAND_TIMEOUT_MS,
  type RedisClient,
  sleep,
} from '@boxoffice/internal';
import {
  IdempotencyInFlightError,
  IdempotencyKeyReuseError,
  IdempotencyStoreUnavailableError,
} from './errors.js';
import { Lease, type LeaseBackend } from './lease.js';
import {
  type DoneRecord,
  decodeRecord,
  type InFlightRecord,
  inFlightRecord,
  ownerPrefix,
  RecordFormatError,
} from './record.js';
import { scripts } from './scripts.js';
import {
  type ClaimOptions,
  DEDUPE_DEFAULTS,
  DEFAULTS,
  type DedupeOptions,
  type IdempotencyStoreOptions,
  type KeyOptions,
  optionalString,
  RUN_DEFAULTS,
  type RunOptions,
} from './store-options.js';
import { StoreTransport } from './transport.js';

/** A stored result, as replayed. */
export interface StoredResult {
  /** HTTP status (0 for `store.run` values). */
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
  /**
   * When the key was first claimed (ms since the epoch): the claiming process's clock (a new key
   * is claimed with a plain `SET`), or Redis server time when the claim ran the script.
   */
  createdAt: number;
  completedAt: number;
  /** When the record expires (ms since the epoch, Redis server time). */
  expiresAt: number;
}

/** The outcome of {@link IdempotencyStore.claim}. */
export type ClaimResult =
  | { readonly outcome: 'claimed'; readonly lease: Lease; readonly expiresAt: number }
  | { readonly outcome: 'busy'; readonly retryAfterMs: number; readonly expiresAt: number }
  | { readonly outcome: 'done'; readonly result: StoredResult }
  | { readonly outcome: 'mismatch'; readonly expiresAt: number };

/** What {@link IdempotencyStore.get} shows about a key. */
export interface IdempotencyRecord {
  state: 'in_flight' | 'done';
  fingerprint: string;
  /** The stored status, for `done` records. */
  status?: number;
  createdAt: number;
  completedAt?: number;
  /** For `in_flight` records: when the owner's lease lapses unless renewed. */
  leaseUntil?: number;
  /** How many owners claimed the key (more than 1 after takeovers of lapsed leases). */
  attempt: number;
  /** When the record expires (ms since the epoch); -1 if it has no expiry. */
  expiresAt: number;
}

/** What {@link IdempotencyStore.run} returns. */
export interface RunResult<T> {
  /** True when `value` is a stored result of an earlier run (the function did not run). */
  replayed: boolean;
  value: T;
  /**
   * False when the function ran but its value could not be stored (Redis failed, or the lease
   * lapsed and another caller took the key over).
   */
  stored: boolean;
}

/** What the function given to `run` learns about its claim. */
export interface RunContext {
  /** 1 on the first claim; > 1 when an earlier owner's lease lapsed (it may have partly run). */
  attempt: number;
}

/** What {@link IdempotencyStore.dedupe} returns. */
export interface DedupeResult<T> {
  /** True when the event was already processed: the function did not run. */
  duplicate: boolean;
  /** The function's value (stored and returned again for duplicates). */
  value: T;
}

function storedResult(record: DoneRecord): StoredResult {
  return {
    status: record.status,
    headers: record.headers,
    body: record.body,
    createdAt: record.createdAt,
    completedAt: record.completedAt,
    expiresAt: record.expiresAt,
  };
}

/** An integer reply element: a number, or a numeric string/Buffer; nil is 0. */
function int(value: unknown): number {
  if (typeof value === 'number') return value;
  return value == null ? 0 : Number(String(value));
}

/**
 * Idempotency records in Redis: claim a key (one atomic step), then store the result or release
 * the claim. Claims are leases: a crashed owner blocks its key for at most `leaseMs`, after which
 * the next caller takes it over atomically. Results are kept `retentionSec` from when they are stored.
 *
 * Keys: one string per (scope, key) at `<prefix>:idem:v2:{<sha256(scope, key)>}`, so user input
 * never breaks key rules (layout: record.ts). A new key is claimed and a stored result found with
 * one plain `SET … NX GET`; scripts run only for in-flight keys, storing, renewing and releasing.
 */
export class IdempotencyStore {
  /** The validated options. */
  readonly options: Readonly<Required<IdempotencyStoreOptions>>;
  private readonly backend: LeaseBackend;
  private readonly transport: StoreTransport;
  /**
   * How long an in-flight record lives without renewal: its lease (`leaseMs`) and then as long
   * again as a result would be retained, so a takeover still knows the attempt and fingerprint.
   */
  private readonly inFlightTtlMs: number;
  /** Claim with `SET … NX GET`; turned off for good when Redis (< 7) refuses it. */
  private fastClaim = true;

  constructor(
    readonly client: RedisClient,
    options?: IdempotencyStoreOptions,
  ) {
    ioredisClient('client', client);
    const o = { ...check.mergeOptions('IdempotencyStore options', DEFAULTS, options) };
    const given = options as IdempotencyStoreOptions | undefined;
    if (given?.timeoutMs !== undefined) {
      if (given.commandTimeoutMs !== undefined) {
        throw new TypeError('give commandTimeoutMs or its deprecated alias timeoutMs, not both');
      }
      o.commandTimeoutMs = given.timeoutMs;
    }
    keyPrefix('prefix', o.prefix);
    check.integer('retentionSec', o.retentionSec, { min: 1, max: 365 * 86_400 });
    check.integer('leaseMs', o.leaseMs, { min: 30, max: 86_400_000 });
    check.integer(
      given?.timeoutMs === undefined ? 'commandTimeoutMs' : 'timeoutMs',
      o.commandTimeoutMs,
      {
        min: 1,
        max: MAX_COMMAND_TIMEOUT_MS,
      },
    );
    o.timeoutMs = o.commandTimeoutMs;
    this.options = Object.freeze(o);
    this.transport = new StoreTransport(client, o.commandTimeoutMs);
    this.inFlightTtlMs = o.retentionSec * 1000 + o.leaseMs;
    this.backend = {
      leaseMs: o.leaseMs,
      retentionSec: o.retentionSec,
      inFlightTtlMs: this.inFlightTtlMs,
      // Each lease renewed once it is leaseMs / 3 old, checked every leaseMs / 6.
      renewer: new KeepAlive(Math.max(5, Math.floor(o.leaseMs / 6)), Math.floor(o.leaseMs / 3)),
      exec: (operation, script, key, args) => this.transport.exec(operation, script, key, args),
    };
  }

  /** The Redis key of the record of (scope, key). */
  redisKey(key: string, scope = ''): string {
    const digest = hash('sha256', `${scope.length}:${scope}:${key}`, 'base64url');
    return `${this.options.prefix}:idem:v2:{${digest}}`;
  }

  private validateKey(key: unknown, options: KeyOptions): { scope: string; fingerprint: string } {
    check.text('key', key, { maxBytes: 1024, printable: true });
    return {
      scope: optionalString('scope', options.scope ?? ''),
      fingerprint: optionalString('fingerprint', options.fingerprint ?? ''),
    };
  }

  /**
   * Claim `key` in one atomic step. Outcomes: `claimed` (you own it: run, then `complete` or
   * `release` the lease, renewing it meanwhile), `busy` (another owner's lease is live, even after
   * waiting `waitMs`), `done` (replay the stored result), `mismatch` (stored with another fingerprint).
   * Throws {@link IdempotencyStoreUnavailableError} when Redis fails.
   */
  async claim(key: string, options: ClaimOptions = {}): Promise<ClaimResult> {
    check.plainObject('options', options);
    const { scope, fingerprint } = this.validateKey(key, options);
    const waitMs = check.integer('waitMs', options.waitMs ?? 0, { max: 3_600_000 });
    const signal = check.optionalSignal('signal', options.signal);
    const redisKey = this.redisKey(key, scope);
    if (waitMs === 0) return this.claimOnce(redisKey, key, scope, fingerprint);
    const deadline = Date.now() + waitMs;
    let pause = 10;
    let result = await this.claimOnce(redisKey, key, scope, fingerprint);
    for (;;) {
      if (result.outcome !== 'busy') return result;
      const left = deadline - Date.now();
      if (left <= 0) return result;
      // Poll with backoff, but never sleep far past the moment the owner's lease could lapse.
      await sleep(Math.max(1, Math.min(pause, left, result.retryAfterMs + 5)), signal);
      pause = Math.min(pause * 1.5, 250);
      // The key is known to be in flight: the script decides at once (no SET … NX GET first).
      result = await this.claimByScript(redisKey, key, scope, fingerprint);
    }
  }

  /**
   * Claim with a plain `SET key <in-flight record> NX PX <inFlightTtlMs> GET` (Redis 7+): no
   * script for a new key (the common case) or a stored result (a replay). Only when the key is in
   * flight does the script decide (busy, takeover or mismatch).
   */
  private claimOnce(
    redisKey: string,
    key: string,
    scope: string,
    fingerprint: string,
  ): Promise<ClaimResult> {
    if (!this.fastClaim) return this.claimByScript(redisKey, key, scope, fingerprint);
    const token = randomUUID();
    const createdAt = Date.now();
    const o = this.options;
    const record = inFlightRecord(token, 1, this.inFlightTtlMs, o.leaseMs, createdAt, fingerprint);
    return this.transport
      .send(
        'claim',
        'setBuffer',
        [redisKey, record, 'PX', this.inFlightTtlMs, 'NX', 'GET'],
        // The caller was told the store is unavailable; if the claim lands after all, give it up at
        // once instead of blocking the key for a whole lease.
        (late) => {
          if (late === null) this.releaseLate(redisKey, token);
        },
      )
      .then(
        (reply) => {
          if (reply === null) {
            const lease = new Lease(
              this.backend,
              redisKey,
              key,
              scope,
              token,
              1,
              createdAt + o.leaseMs,
              fingerprint,
              createdAt,
            );
            return { outcome: 'claimed', lease, expiresAt: createdAt + this.inFlightTtlMs };
          }
          const found = this.decode(reply);
          if (found.state === 'in_flight')
            return this.claimByScript(redisKey, key, scope, fingerprint);
          return found.fingerprint === fingerprint
            ? { outcome: 'done', result: storedResult(found) }
            : { outcome: 'mismatch', expiresAt: found.expiresAt };
        },
        (error: unknown) => {
          // Redis before 7.0 refuses NX together with GET: use the script from now on.
          if (/syntax error/i.test(String((error as Error).cause))) {
            this.fastClaim = false;
            return this.claimByScript(redisKey, key, scope, fingerprint);
          }
          throw error;
        },
      );
  }

  /** The claim decided by claim.lua: used while the key is in flight, and on Redis < 7. */
  private claimByScript(
    redisKey: string,
    key: string,
    scope: string,
    fingerprint: string,
  ): Promise<ClaimResult> {
    const token = randomUUID();
    return this.transport
      .exec(
        'claim',
        scripts.claim,
        redisKey,
        [token, fingerprint, this.options.leaseMs, this.inFlightTtlMs],
        (late) => {
          if (Array.isArray(late) && late[0] === 1) this.releaseLate(redisKey, token);
        },
        true,
      )
      .then((reply) =>
        this.parseClaim(
          reply as (string | number | Buffer | null)[],
          redisKey,
          key,
          scope,
          token,
          fingerprint,
        ),
      );
  }

  private releaseLate(redisKey: string, token: string): void {
    this.transport.exec('release', scripts.release, redisKey, [ownerPrefix(token)]).catch(() => {});
  }

  /** Decode a record value, or fail like any unusable reply. */
  private decode(reply: unknown): InFlightRecord | DoneRecord {
    try {
      if (!Buffer.isBuffer(reply)) throw new RecordFormatError(`reply ${check.show(reply)}`);
      return decodeRecord(reply);
    } catch (error) {
      throw new IdempotencyStoreUnavailableError('claim', { cause: error, kind: 'other' });
    }
  }

  private parseClaim(
    reply: (string | number | Buffer | null)[],
    redisKey: string,
    key: string,
    scope: string,
    token: string,
    fingerprint: string,
  ): ClaimResult {
    switch (reply[0]) {
      case 1:
        return {
          outcome: 'claimed',
          lease: new Lease(
            this.backend,
            redisKey,
            key,
            scope,
            token,
            int(reply[1]),
            int(reply[2]),
            fingerprint,
            int(reply[4]),
          ),
          expiresAt: int(reply[3]),
        };
      case 2:
        return {
          outcome: 'busy',
          retryAfterMs: Math.max(0, int(reply[1]) - int(reply[3])),
          expiresAt: int(reply[2]),
        };
      case 3: {
        const found = this.decode(reply[1]);
        if (found.state === 'done') return { outcome: 'done', result: storedResult(found) };
        break;
      }
      case 4:
        return { outcome: 'mismatch', expiresAt: int(reply[1]) };
    }
    throw new IdempotencyStoreUnavailableError('claim', {
      cause: new Error(`unexpected reply ${check.show(reply)}`),
      kind: 'other',
    });
  }

  /** Inspect a key: `null` when there is no record (never claimed, released, or expired). */
  async get(key: string, options: { scope?: string } = {}): Promise<IdempotencyRecord | null> {
    check.plainObject('options', options);
    const { scope } = this.validateKey(key, options);
    const r = (await this.transport.exec(
      'get',
      scripts.inspect,
      this.redisKey(key, scope),
      [],
      undefined,
      true,
    )) as unknown[];
    if (r.length === 0) return null;
    const found = this.decode(r[0]);
    const pttl = int(r[1]);
    const now = int(r[2]);
    if (found.state === 'done') {
      return {
        state: 'done',
        fingerprint: found.fingerprint,
        status: found.status,
        createdAt: found.createdAt,
        completedAt: found.completedAt,
        attempt: found.attempt,
        expiresAt: found.expiresAt,
      };
    }
    return {
      state: 'in_flight',
      fingerprint: found.fingerprint,
      createdAt: found.createdAt,
      leaseUntil: now + pttl - (found.inFlightTtlMs - found.leaseMs),
      attempt: found.attempt,
      expiresAt: pttl >= 0 ? now + pttl : -1,
    };
  }

  /**
   * Run `fn` at most once per (scope, key) while its result is retained: the first caller runs it
   * and stores its value (JSON); later callers get that value with `replayed: true`. A caller that
   * arrives while the first one runs waits for its result (or, with `inFlight: 'reject'`, throws
   * {@link IdempotencyInFlightError}). If `fn` throws, the claim is released and the error rethrown,
   * so a retry runs `fn` again. A different `fingerprint` for a stored key throws
   * {@link IdempotencyKeyReuseError}. The value must be JSON-serialisable.
   */
  async run<T>(
    key: string,
    options: RunOptions,
    fn: (context: RunContext) => Promise<T> | T,
  ): Promise<RunResult<T>> {
    const o = check.mergeOptions('run options', RUN_DEFAULTS, options);
    const { scope, fingerprint } = this.validateKey(key, o);
    check.oneOf('inFlight', o.inFlight, ['reject', 'wait']);
    check.integer('waitMs', o.waitMs, { max: 3_600_000 });
    check.optionalSignal('signal', o.signal);
    check.func('fn', fn);
    const claim = await this.claim(key, {
      scope,
      fingerprint,
      waitMs: o.inFlight === 'wait' ? o.waitMs : 0,
      signal: o.signal,
    });
    switch (claim.outcome) {
      case 'done': {
        const text = claim.result.body.toString('utf8');
        return {
          replayed: true,
          value: (text === '' ? undefined : JSON.parse(text)) as T,
          stored: true,
        };
      }
      case 'mismatch':
        throw new IdempotencyKeyReuseError(key, scope);
      case 'busy':
        throw new IdempotencyInFlightError(key, scope, claim.retryAfterMs);
    }
    const { lease } = claim;
    const stopRenewal = lease.keepAlive();
    let value: T;
    let body: Buffer;
    try {
      value = await fn({ attempt: lease.attempt });
      const json = value === undefined ? '' : JSON.stringify(value);
      body = Buffer.from(json ?? '', 'utf8');
    } catch (error) {
      stopRenewal();
      await lease.release().catch(() => {});
      throw error;
    }
    stopRenewal();
    const expiresAt = await lease.complete({ status: 0, body }).catch(() => null);
    return { replayed: false, value, stored: expiresAt !== null };
  }

  /**
   * Consumer-side dedupe for at-least-once delivery: runs `fn` at most once per (scope, eventId)
   * while the record is retained. Concurrent deliveries of one event wait for the first (up to
   * `waitMs`, then {@link IdempotencyInFlightError} so the message is redelivered later). If `fn`
   * throws, nothing is recorded and a redelivery runs it again.
   */
  async dedupe<T>(
    eventId: string,
    fn: () => Promise<T> | T,
    options?: DedupeOptions,
  ): Promise<DedupeResult<T>> {
    const o = check.mergeOptions('dedupe options', DEDUPE_DEFAULTS, options);
    check.func('fn', fn);
    const { replayed, value } = await this.run(
      eventId,
      { scope: o.scope, waitMs: o.waitMs, signal: o.signal, inFlight: 'wait' },
      () => fn(),
    );
    return { duplicate: replayed, value };
  }
}
