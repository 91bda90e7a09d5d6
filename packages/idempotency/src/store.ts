import { hash, randomUUID } from 'node:crypto';
import { check, isCluster, keyPrefix, type RedisClient, sleep } from '@boxoffice/internal';
import { Batcher, type ReplyReceiver } from './batch.js';
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
import { Renewer } from './renewer.js';
import { type Script, scripts } from './scripts.js';
import { type Deadline, Deadlines } from './timeout.js';

/** Options of {@link IdempotencyStore}. */
export interface IdempotencyStoreOptions {
  /** First part of every Redis key. @defaultValue 'bo' */
  prefix?: string;
  /** How long a stored result is kept (and replayed), counted from when it is stored. @defaultValue 86_400 */
  retentionSec?: number;
  /**
   * How long a claim stays valid without renewal. A crashed owner blocks its key for at most this
   * long; then the next caller takes it over. @defaultValue 10_000
   */
  leaseMs?: number;
  /**
   * Longest wait for one Redis call (checked every `timeoutMs / 4`, so up to 1.25× this); past it
   * the operation fails with {@link IdempotencyStoreUnavailableError} (the middleware answers 503).
   * @defaultValue 2_000
   */
  timeoutMs?: number;
}

const DEFAULTS: Readonly<Required<IdempotencyStoreOptions>> = Object.freeze({
  prefix: 'bo',
  retentionSec: 86_400,
  leaseMs: 10_000,
  timeoutMs: 2_000,
});

/** Which key, for whom, with which payload. */
export interface KeyOptions {
  /** Namespace of the key, e.g. the caller's user id: the same key in two scopes is two records. @defaultValue '' */
  scope?: string;
  /** Digest of the payload; a replay with a different one is refused. @defaultValue '' */
  fingerprint?: string;
}

/** Options of {@link IdempotencyStore.claim}. */
export interface ClaimOptions extends KeyOptions {
  /** While another owner's lease is live, poll (with backoff) up to this long. 0: answer at once. @defaultValue 0 */
  waitMs?: number;
  /** Stops waiting early (rejects with the signal's reason). */
  signal?: AbortSignal;
}

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

/** Options of {@link IdempotencyStore.run}. */
export interface RunOptions extends KeyOptions {
  /** While another caller runs the same key: wait for its result, or throw at once. @defaultValue 'wait' */
  inFlight?: 'reject' | 'wait';
  /** Longest wait in `'wait'` mode before {@link IdempotencyInFlightError}. @defaultValue 5_000 */
  waitMs?: number;
  signal?: AbortSignal;
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

/** Options of {@link IdempotencyStore.dedupe}. */
export interface DedupeOptions {
  /** Namespace, e.g. the consumer's name: each consumer dedupes on its own. @defaultValue '' */
  scope?: string;
  /** Longest wait while another delivery of the same event is being processed. @defaultValue 5_000 */
  waitMs?: number;
  signal?: AbortSignal;
}

/** What {@link IdempotencyStore.dedupe} returns. */
export interface DedupeResult<T> {
  /** True when the event was already processed: the function did not run. */
  duplicate: boolean;
  /** The function's value (stored and returned again for duplicates). */
  value: T;
}

const RUN_DEFAULTS = Object.freeze({
  scope: '',
  fingerprint: '',
  inFlight: 'wait' as 'reject' | 'wait',
  waitMs: 5_000,
  signal: undefined as AbortSignal | undefined,
});

const DEDUPE_DEFAULTS = Object.freeze({
  scope: '',
  waitMs: 5_000,
  signal: undefined as AbortSignal | undefined,
});

function optionalString(name: string, value: unknown): string {
  if (typeof value !== 'string') {
    throw new TypeError(`${name} must be a string, got ${check.show(value)}`);
  }
  const bytes = check.byteLength(value);
  if (bytes > 1024) throw new RangeError(`${name} must be at most 1024 bytes, got ${bytes}`);
  return value;
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
 * One Redis call of the store: settled by its reply, or failed with
 * {@link IdempotencyStoreUnavailableError} when Redis errs or its deadline passes first. A reply
 * that arrives after the deadline goes to `onLateReply` (ioredis queues commands while
 * reconnecting, so a command that timed out may still run later).
 */
class Call implements Deadline, ReplyReceiver {
  readonly deadline: number;
  settled = false;

  constructor(
    private readonly deadlines: Deadlines,
    private readonly operation: string,
    private readonly resolve: (value: unknown) => void,
    private readonly reject: (error: unknown) => void,
    private readonly onLateReply: ((reply: unknown) => void) | undefined,
  ) {
    this.deadline = Date.now() + deadlines.ms;
  }

  expire(error: Error): void {
    this.reject(
      new IdempotencyStoreUnavailableError(this.operation, {
        cause: new Error(`idempotency ${this.operation}: ${error.message}`),
      }),
    );
  }

  reply(error: unknown, value: unknown): void {
    if (!this.deadlines.finish(this)) {
      if (error === null || error === undefined) this.onLateReply?.(value);
      return;
    }
    if (error === null || error === undefined) this.resolve(value);
    else this.reject(new IdempotencyStoreUnavailableError(this.operation, { cause: error }));
  }
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
  private readonly deadlines: Deadlines;
  /** One pipeline per event-loop turn (standalone and Sentinel clients; a Cluster sends directly). */
  private readonly batcher: Batcher | undefined;
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
    if (
      client === null ||
      typeof client !== 'object' ||
      typeof client.defineCommand !== 'function'
    ) {
      throw new TypeError(`client must be an ioredis Redis or Cluster, got ${check.show(client)}`);
    }
    const o = check.mergeOptions('IdempotencyStore options', DEFAULTS, options);
    keyPrefix('prefix', o.prefix);
    check.integer('retentionSec', o.retentionSec, { min: 1, max: 365 * 86_400 });
    check.integer('leaseMs', o.leaseMs, { min: 30, max: 86_400_000 });
    check.integer('timeoutMs', o.timeoutMs, { min: 1, max: 600_000 });
    this.options = o;
    this.deadlines = new Deadlines(o.timeoutMs);
    this.inFlightTtlMs = o.retentionSec * 1000 + o.leaseMs;
    this.batcher = isCluster(client) ? undefined : new Batcher(client);
    // Define every script now, not on first use: with `enableAutoPipelining`, ioredis copies the
    // defined commands into each auto-pipeline when it creates it, so a script first defined while a
    // pipeline is open for the current tick is missing from it (and ioredis then fails the batch).
    for (const script of Object.values(scripts)) script.register(client);
    this.backend = {
      leaseMs: o.leaseMs,
      retentionSec: o.retentionSec,
      inFlightTtlMs: this.inFlightTtlMs,
      renewer: new Renewer(o.leaseMs),
      exec: (operation, script, key, args) => this.exec(operation, script, key, args),
    };
  }

  /** The Redis key of the record of (scope, key). */
  redisKey(key: string, scope = ''): string {
    const digest = hash('sha256', `${scope.length}:${scope}:${key}`, 'base64url');
    return `${this.options.prefix}:idem:v2:{${digest}}`;
  }

  private exec(
    operation: string,
    script: Script,
    key: string,
    args: (string | number | Buffer)[],
    onLateReply?: (reply: unknown) => void,
    binaryReply = false,
  ): Promise<unknown> {
    // ioredis defines `<command>Buffer` beside every script command: bulk replies as Buffers, so
    // stored bodies come back byte for byte without an encoding step. The scripts were defined on
    // this client in the constructor.
    const argv: unknown[] = [1, key];
    for (const arg of args) argv.push(arg);
    return this.send(
      operation,
      binaryReply ? script.bufferCommand : script.command,
      argv,
      onLateReply,
    );
  }

  /** Send one command (a method name of the client and its pipelines) under the store's deadline. */
  private send(
    operation: string,
    command: string,
    argv: unknown[],
    onLateReply?: (reply: unknown) => void,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const call = new Call(this.deadlines, operation, resolve, reject, onLateReply);
      try {
        this.deadlines.start(call);
        if (this.batcher) {
          this.batcher.send(command, argv, call);
        } else {
          const fn = (
            this.client as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>
          )[command] as (...a: unknown[]) => Promise<unknown>;
          fn.apply(this.client, argv).then(
            (value) => call.reply(null, value),
            (error: unknown) => call.reply(error, undefined),
          );
        }
      } catch (error) {
        call.reply(error, undefined);
      }
    });
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
    return this.send(
      'claim',
      'setBuffer',
      [redisKey, record, 'PX', this.inFlightTtlMs, 'NX', 'GET'],
      // The caller was told the store is unavailable; if the claim lands after all, give it up at
      // once instead of blocking the key for a whole lease.
      (late) => {
        if (late === null) this.releaseLate(redisKey, token);
      },
    ).then(
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
    return this.exec(
      'claim',
      scripts.claim,
      redisKey,
      [token, fingerprint, this.options.leaseMs, this.inFlightTtlMs],
      (late) => {
        if (Array.isArray(late) && late[0] === 1) this.releaseLate(redisKey, token);
      },
      true,
    ).then((reply) =>
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
    this.exec('release', scripts.release, redisKey, [ownerPrefix(token)]).catch(() => {});
  }

  /** Decode a record value, or fail like any unusable reply. */
  private decode(reply: unknown): InFlightRecord | DoneRecord {
    try {
      if (!Buffer.isBuffer(reply)) throw new RecordFormatError(`reply ${check.show(reply)}`);
      return decodeRecord(reply);
    } catch (error) {
      throw new IdempotencyStoreUnavailableError('claim', { cause: error });
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
    });
  }

  /** Inspect a key: `null` when there is no record (never claimed, released, or expired). */
  async get(key: string, options: { scope?: string } = {}): Promise<IdempotencyRecord | null> {
    check.plainObject('options', options);
    const { scope } = this.validateKey(key, options);
    const r = (await this.exec(
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
