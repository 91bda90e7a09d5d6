import type { NextFunction, Request, Response } from 'express';
import { type GuardSettings, lostLeaseError, storedHeaders } from './guard.js';
import { HEADERS, httpDate } from './header.js';
import type { Lease } from './lease.js';

/** Runs the handler of a claimed key (`next`) with its response captured. */
export type CaptureGuard = (lease: Lease, req: Request, res: Response, next: NextFunction) => void;

type Chunk = string | Uint8Array | null | undefined;

/**
 * The response capture of one middleware: a guard that records what the handler sends and, before
 * the response completes, stores it (or releases the key). Storing before the last byte leaves
 * means a client that saw the response can only be answered with its replay, never with a 409.
 */
export function responseCapture(o: GuardSettings<Request>): CaptureGuard {
  const { replayHeaders, retentionMs } = o;
  // The response is recorded through three replaced methods of `res`; they are created once per
  // middleware (not per request) and find the request's state on `res[capture]` (a symbol of this
  // middleware, so two stacked middlewares each see their own).
  const capture = Symbol('idempotency capture');
  type Captured = Response & { [capture]: Capture };

  return function guard(lease: Lease, req: Request, res: Response, next: NextFunction): void {
    (res as Captured)[capture] = {
      lease,
      req,
      maxBytes: o.maxBodyBytes,
      first: undefined,
      rest: undefined,
      size: 0,
      oversize: false,
      ended: false,
      writeHead: res.writeHead,
      write: res.write,
      end: res.end,
      chunk: undefined,
      encoding: undefined,
      cb: undefined,
    };
    res.writeHead = captureWriteHead as Response['writeHead'];
    res.write = captureWrite as Response['write'];
    res.end = captureEnd as Response['end'];
    next();
  };

  function captureWriteHead(this: Captured, status: number, ...rest: unknown[]): Response {
    const s = this[capture];
    if (!o.cache(status)) {
      this.removeHeader(HEADERS.expires);
    } else {
      // Until the result is stored, the expiry counts from when the key was claimed: slightly
      // early, never late. Once stored, the exact time is already set.
      if (!this.hasHeader(HEADERS.expires)) {
        this.setHeader(HEADERS.expires, httpDate(s.lease.renewStartedAt + retentionMs));
      }
      if (Number(this.getHeader('content-length')) > o.maxBodyBytes) {
        this.setHeader(HEADERS.bodyStored, 'false');
      }
    }
    return (s.writeHead as (...args: unknown[]) => Response).call(this, status, ...rest);
  }

  function captureWrite(this: Captured, chunk: Chunk, encoding?: unknown, cb?: unknown): boolean {
    const s = this[capture];
    if (!s.ended) record(s, chunk, typeof encoding === 'string' ? encoding : undefined);
    return (s.write as (...args: unknown[]) => boolean).call(this, chunk, encoding, cb);
  }

  function captureEnd(this: Captured, chunk?: unknown, encoding?: unknown, cb?: unknown): Response {
    const s = this[capture];
    if (typeof chunk === 'function') {
      cb = chunk;
      chunk = undefined;
      encoding = undefined;
    } else if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }
    if (s.ended) return callEnd(this, s.end, chunk, encoding, cb);
    s.ended = true;
    s.lease.stopRenewal();
    s.chunk = chunk;
    s.encoding = encoding;
    s.cb = cb;
    try {
      record(s, chunk as Chunk, typeof encoding === 'string' ? encoding : undefined);
      settle(this, s);
    } catch (error) {
      failed(this, s, error);
    }
    return this;
  }

  function settle(res: Captured, s: Capture): void {
    const status = res.statusCode;
    if (!o.cache(status)) {
      s.lease.release().then(
        () => finish(res, s),
        (error: unknown) => failed(res, s, error),
      );
      return;
    }
    const headers = storedHeaders(replayHeaders, (name) => res.getHeader(name), s.oversize);
    // The operation happened, so the key must not run again; its replay carries no body.
    if (s.oversize && !res.headersSent) res.setHeader(HEADERS.bodyStored, 'false');
    s.lease.completeUnchecked(status, JSON.stringify(headers), bodyOf(s)).then(
      (expiresAt) => stored(res, s, expiresAt),
      (error: unknown) => failed(res, s, error),
    );
  }

  function stored(res: Captured, s: Capture, expiresAt: number | null): void {
    try {
      if (expiresAt === null) {
        o.onError(lostLeaseError(s.lease), s.req);
      } else if (!res.headersSent) {
        res.setHeader(HEADERS.expires, httpDate(expiresAt));
      }
    } catch (error) {
      failed(res, s, error);
      return;
    }
    finish(res, s);
  }

  function failed(res: Captured, s: Capture, error: unknown): void {
    o.onError(error, s.req);
    finish(res, s);
  }

  function finish(res: Captured, s: Capture): void {
    callEnd(res, s.end, s.chunk, s.encoding, s.cb);
  }
}

/** What the middleware records of one response (kept on `res`). */
interface Capture {
  readonly lease: Lease;
  readonly req: Request;
  /** `maxBodyBytes`: larger bodies are not stored. */
  readonly maxBytes: number;
  /** The first body chunk: a UTF-8 string as given (no copy), or bytes. */
  first: Buffer | string | undefined;
  /** Further chunks, as bytes. */
  rest: Buffer[] | undefined;
  size: number;
  oversize: boolean;
  ended: boolean;
  readonly writeHead: Response['writeHead'];
  readonly write: Response['write'];
  readonly end: Response['end'];
  /** The arguments of the handler's `res.end`, passed on once the result is stored. */
  chunk: unknown;
  encoding: unknown;
  cb: unknown;
}

function isUtf8Encoding(encoding: string | undefined): boolean {
  return encoding === undefined || encoding === 'utf8' || encoding === 'utf-8';
}

function record(s: Capture, chunk: Chunk, encoding: string | undefined): void {
  if (chunk == null || s.oversize) return;
  let piece: Buffer | string;
  let bytes: number;
  if (typeof chunk === 'string') {
    if (isUtf8Encoding(encoding)) {
      piece = chunk;
      bytes = Buffer.byteLength(chunk, 'utf8');
    } else {
      piece = Buffer.from(chunk, encoding as BufferEncoding);
      bytes = piece.length;
    }
  } else {
    piece = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    bytes = piece.length;
  }
  s.size += bytes;
  if (s.size > s.maxBytes) {
    s.oversize = true;
    s.first = undefined;
    s.rest = undefined;
  } else if (s.first === undefined) {
    s.first = piece;
  } else {
    if (s.rest === undefined) s.rest = [];
    s.rest.push(typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece);
  }
}

/** The recorded body: the single chunk as it came, or all chunks joined. */
function bodyOf(s: Capture): Buffer | string {
  if (s.oversize || s.first === undefined) return '';
  if (s.rest === undefined) return s.first;
  const first = typeof s.first === 'string' ? Buffer.from(s.first, 'utf8') : s.first;
  return Buffer.concat([first, ...s.rest]);
}

/** Call `res.end` with exactly the arguments the handler gave (wrappers may count them). */
function callEnd(
  res: Response,
  end: Response['end'],
  chunk: unknown,
  encoding: unknown,
  cb: unknown,
): Response {
  const f = end as (...args: unknown[]) => Response;
  if (chunk === undefined) return cb === undefined ? f.call(res) : f.call(res, cb);
  if (encoding === undefined) return cb === undefined ? f.call(res, chunk) : f.call(res, chunk, cb);
  return cb === undefined ? f.call(res, chunk, encoding) : f.call(res, chunk, encoding, cb);
}
