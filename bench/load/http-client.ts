import { Agent, request } from 'node:http';

/** A JSON response as the load generator sees it. */
export interface Reply {
  /** 0: no answer (see `error`). */
  status: number;
  /** Why there was no answer (the socket error's code), when `status` is 0. */
  error?: string;
  /** The ETag response header, if any. */
  etag?: string;
  // biome-ignore lint/suspicious/noExplicitAny: the flow reads the fields it needs
  body: any;
}

/** Per-endpoint latency samples (ms), keyed by a route label such as `POST /payments`. */
export class Latencies {
  readonly #samples = new Map<string, number[]>();
  /** With `BENCH_LOAD_TIMELINE` set: every request as [end (ms since epoch), label, ms]. */
  readonly timeline: [number, string, number][] | undefined = process.env.BENCH_LOAD_TIMELINE
    ? []
    : undefined;

  add(label: string, ms: number): void {
    const list = this.#samples.get(label);
    if (list) list.push(ms);
    else this.#samples.set(label, [ms]);
    this.timeline?.push([Date.now(), label, ms]);
  }

  /** How many requests under `label` have answered so far. */
  count(label: string): number {
    return this.#samples.get(label)?.length ?? 0;
  }

  /** [label, count, p50, p99, max] per endpoint, in first-seen order. */
  summary(): [string, number, number, number, number][] {
    return [...this.#samples].map(([label, list]) => {
      const sorted = [...list].sort((a, b) => a - b);
      const at = (q: number) =>
        sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
      return [label, sorted.length, at(0.5), at(0.99), sorted.at(-1) ?? 0];
    });
  }
}

/** What a request sends, and whether its JSON answer is parsed. */
export interface RequestOptions {
  body?: unknown;
  token?: string;
  headers?: Record<string, string>;
  /** Keep the body as text (the caller parses it once per ETag, not once per simulated user). */
  text?: boolean;
}

/**
 * A keep-alive HTTP client with a bounded socket pool (a browser-like number of connections, not
 * one per simulated user) that records every request's latency under its route label.
 */
export class LoadClient {
  // With a timeout set, Node's agent closes an idle socket a second before the server's
  // `Keep-Alive: timeout=` hint (5 s for Node servers) instead of reusing one the server is closing.
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 256, timeout: 60_000 });

  constructor(readonly latencies: Latencies) {}

  /**
   * Send `method path` to `base` with an optional JSON body and headers; never throws: a request
   * that finds no answer resolves with status 0. A pooled socket the server closed as idle just as
   * it was reused (`ECONNRESET` on a reused socket) is retried once on a fresh one, as browsers do.
   */
  async call(
    base: string,
    label: string,
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<Reply> {
    try {
      return await this.#send(base, label, method, path, options);
    } catch (error) {
      if ((error as { reused?: boolean }).reused) {
        return this.#send(base, label, method, path, options).catch((again: unknown) => ({
          status: 0,
          error: errorCode(again),
          body: '',
        }));
      }
      return { status: 0, error: errorCode(error), body: '' };
    }
  }

  #send(
    base: string,
    label: string,
    method: string,
    path: string,
    options: RequestOptions,
  ): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const req = request(`${base}${path}`, { method, headers, agent: this.#agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          this.latencies.add(label, performance.now() - started);
          const text = Buffer.concat(chunks).toString();
          const json = !options.text && /json/.test(res.headers['content-type'] ?? '') && text;
          resolve({
            status: res.statusCode ?? 0,
            etag: res.headers.etag,
            body: json ? JSON.parse(text) : text,
          });
        });
        res.on('error', reject);
      });
      req.on('error', (error: Error & { code?: string }) =>
        reject(Object.assign(error, { reused: req.reusedSocket && error.code === 'ECONNRESET' })),
      );
      req.end(payload);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** One Server-Sent Event. */
export interface StreamEvent {
  event: string;
  // biome-ignore lint/suspicious/noExplicitAny: the flow reads the fields it needs
  data: any;
}

/**
 * Server-Sent Event streams as the web page holds them (one socket each, outside the request pool):
 * `open` calls `onEvent` for each event until the server ends the stream or `onEvent` returns
 * `false`, and resolves with the HTTP status. Sockets take their source address in turn from
 * `localAddresses` (127.0.0.x), so tens of thousands of streams do not run out of ports.
 */
export class StreamClient {
  readonly #agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  readonly #localAddresses: string[];
  #next = 0;
  /** Streams open now. */
  open = 0;
  /** Events received, by name. */
  readonly received = new Map<string, number>();

  constructor(
    readonly latencies: Latencies,
    localAddresses = ['127.0.0.1'],
  ) {
    this.#localAddresses = localAddresses;
  }

  stream(
    base: string,
    label: string,
    path: string,
    onEvent: (event: StreamEvent) => boolean | undefined,
    options: { localAddress?: string; signal?: AbortSignal } = {},
  ): Promise<number> {
    const localAddress =
      options.localAddress ?? this.#localAddresses[this.#next++ % this.#localAddresses.length];
    const started = performance.now();
    return new Promise((resolve) => {
      const req = request(
        `${base}${path}`,
        {
          method: 'GET',
          agent: this.#agent,
          localAddress,
          headers: { accept: 'text/event-stream' },
        },
        (res) => {
          this.latencies.add(label, performance.now() - started);
          if (res.statusCode !== 200) {
            res.resume();
            return resolve(res.statusCode ?? 0);
          }
          this.open++;
          let buffer = '';
          let finished = false;
          const done = () => {
            if (finished) return;
            finished = true;
            this.open--;
            resolve(200);
          };
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buffer += chunk;
            for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              const name = /^event: (.*)$/m.exec(block)?.[1];
              const data = /^data: (.*)$/m.exec(block)?.[1];
              if (!name) continue; // a keep-alive comment
              this.received.set(name, (this.received.get(name) ?? 0) + 1);
              if (onEvent({ event: name, data: data ? JSON.parse(data) : null }) === false) {
                req.destroy();
                return;
              }
            }
          });
          res.on('end', done);
          res.on('close', () => {
            if (!res.complete) done();
          });
          res.on('error', () => {});
        },
      );
      req.on('error', () => resolve(0));
      options.signal?.addEventListener('abort', () => req.destroy(), { once: true });
      req.end();
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** The code of a socket error (`ECONNRESET`, …), else its message. */
function errorCode(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown };
  return String(e?.code ?? e?.message ?? error);
}
