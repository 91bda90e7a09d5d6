import { Readable, Transform, type TransformCallback } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

/** True for a Node readable stream (what `pipe` can read). */
export function isNodeStream(value: unknown): value is Readable {
  return typeof (value as Readable | null)?.pipe === 'function';
}

/** True for a WHATWG `ReadableStream`. */
export function isWebStream(value: unknown): value is WebReadableStream {
  return typeof (value as WebReadableStream | null)?.getReader === 'function';
}

/**
 * Pass `source` through a recorder that keeps up to `maxBytes` of it and, once the source ended,
 * calls `settle` with the body (empty and `oversize` true past `maxBytes`) and ends the returned
 * stream only after `settle` finished: the last byte leaves after the result is stored. A source
 * that fails ends the stream with its error and `settle` is not called.
 */
export function captureStream(
  source: Readable | WebReadableStream,
  maxBytes: number,
  settle: (body: Buffer, oversize: boolean) => Promise<unknown>,
): Readable {
  const input = isNodeStream(source) ? source : Readable.fromWeb(source);
  const chunks: Buffer[] = [];
  let size = 0;
  let oversize = false;
  const recorder = new Transform({
    transform(chunk: Buffer | string, encoding: BufferEncoding, callback: TransformCallback) {
      if (!oversize) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
        size += bytes.length;
        if (size > maxBytes) {
          oversize = true;
          chunks.length = 0;
        } else {
          chunks.push(bytes);
        }
      }
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      settle(oversize ? Buffer.alloc(0) : Buffer.concat(chunks), oversize).then(
        () => callback(),
        (error: unknown) => callback(error as Error),
      );
    },
  });
  input.on('error', (error) => recorder.destroy(error));
  return input.pipe(recorder);
}
