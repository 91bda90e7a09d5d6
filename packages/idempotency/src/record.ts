/**
 * The layout of an idempotency record: one Redis string per (scope, key), so that claiming a new
 * key is a plain `SET … NX GET` (no script) and replaying a stored result is the same command.
 *
 * In flight: `I<token>\n<attempt>\n<inFlightTtlMs>\n<leaseMs>\n<createdAt>\n<fingerprint>`
 *   The key's TTL is set to `inFlightTtlMs` when it is claimed and at each renewal, so Redis' own
 *   clock tells whether the lease is live: `PTTL > inFlightTtlMs − leaseMs`. The record survives a
 *   lapsed lease (the next claimer takes it over as attempt + 1) until `inFlightTtlMs` runs out.
 * Done: `D<expiresAt>\n<completedAt>\n<status>\n<createdAt>\n<attempt>\n<fpBytes>\n<fingerprint><headersJson>\n<body>`
 *   `expiresAt` and `completedAt` are Redis server time, written by complete.lua; the body is the
 *   rest of the value, byte for byte. (JSON never holds a raw newline, so `headersJson` ends at one.)
 *
 * The Lua scripts parse the same layout; keep both sides in step (and rename the scripts).
 * @internal
 */

const NL = 0x0a;

/** The start of an in-flight record owned by `token`: what the scripts compare to check ownership. */
export function ownerPrefix(token: string): string {
  return `I${token}\n`;
}

/** An in-flight record as the fast claim path writes it. */
export function inFlightRecord(
  token: string,
  attempt: number,
  inFlightTtlMs: number,
  leaseMs: number,
  createdAt: number,
  fingerprint: string,
): string {
  return `I${token}\n${attempt}\n${inFlightTtlMs}\n${leaseMs}\n${createdAt}\n${fingerprint}`;
}

/** What complete.lua appends after `D<expiresAt>\n<completedAt>\n`, up to the body. */
export function doneHead(
  status: number,
  createdAt: number,
  attempt: number,
  fingerprint: string,
  headersJson: string,
): string {
  return `${status}\n${createdAt}\n${attempt}\n${Buffer.byteLength(fingerprint, 'utf8')}\n${fingerprint}${headersJson}\n`;
}

/** A decoded in-flight record. */
export interface InFlightRecord {
  readonly state: 'in_flight';
  readonly attempt: number;
  readonly inFlightTtlMs: number;
  readonly leaseMs: number;
  readonly createdAt: number;
  readonly fingerprint: string;
}

/** A decoded done record. */
export interface DoneRecord {
  readonly state: 'done';
  readonly expiresAt: number;
  readonly completedAt: number;
  readonly status: number;
  readonly createdAt: number;
  readonly attempt: number;
  readonly fingerprint: string;
  readonly headers: Record<string, string | string[]>;
  readonly body: Buffer;
}

/** Thrown for a value that is not a record of this layout (a foreign or corrupted key). */
export class RecordFormatError extends Error {
  constructor(detail: string) {
    super(`not an idempotency record of this version: ${detail}`);
    this.name = 'RecordFormatError';
  }
}

/** Reads the decimal integer at `pos` up to the next newline and leaves `cursor` just after it. */
function readInt(buf: Buffer, pos: number): number {
  let n = 0;
  let i = pos;
  for (; i < buf.length; i++) {
    const c = buf[i] as number;
    if (c === NL) break;
    if (c < 0x30 || c > 0x39) throw new RecordFormatError(`digit expected at byte ${i}`);
    n = n * 10 + (c - 0x30);
  }
  if (i === pos || i >= buf.length) throw new RecordFormatError(`number expected at byte ${pos}`);
  cursor = i + 1;
  return n;
}

// Where the last readInt stopped (module state keeps the hot path free of tuple allocations).
let cursor = 0;

/** Decode a record value (as returned by GET / SET … GET). */
export function decodeRecord(buf: Buffer): InFlightRecord | DoneRecord {
  const kind = buf[0];
  if (kind === 0x44 /* D */) {
    const expiresAt = readInt(buf, 1);
    const completedAt = readInt(buf, cursor);
    const status = readInt(buf, cursor);
    const createdAt = readInt(buf, cursor);
    const attempt = readInt(buf, cursor);
    const fpBytes = readInt(buf, cursor);
    const fpEnd = cursor + fpBytes;
    const headersEnd = buf.indexOf(NL, fpEnd);
    if (fpEnd > buf.length || headersEnd < 0) throw new RecordFormatError('truncated done record');
    const fingerprint = fpBytes === 0 ? '' : buf.toString('utf8', cursor, fpEnd);
    const headersJson = buf.toString('utf8', fpEnd, headersEnd);
    return {
      state: 'done',
      expiresAt,
      completedAt,
      status,
      createdAt,
      attempt,
      fingerprint,
      headers: headersJson === '{}' ? {} : JSON.parse(headersJson),
      body: buf.subarray(headersEnd + 1),
    };
  }
  if (kind === 0x49 /* I */) {
    const tokenEnd = buf.indexOf(NL, 1);
    if (tokenEnd < 0) throw new RecordFormatError('truncated in-flight record');
    const attempt = readInt(buf, tokenEnd + 1);
    const inFlightTtlMs = readInt(buf, cursor);
    const leaseMs = readInt(buf, cursor);
    const createdAt = readInt(buf, cursor);
    return {
      state: 'in_flight',
      attempt,
      inFlightTtlMs,
      leaseMs,
      createdAt,
      fingerprint: buf.toString('utf8', cursor),
    };
  }
  throw new RecordFormatError(`unknown record kind ${kind === undefined ? '(empty)' : kind}`);
}
