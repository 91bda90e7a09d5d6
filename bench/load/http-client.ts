import { Agent, request } from 'node:http';

/** A JSON response as the load generator sees it. */
export interface Reply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: the flow reads the fields it needs
  body: any;
}

/** Per-endpoint latency samples (ms), keyed by a route label such as `POST /payments`. */
export class Latencies {
  readonly #samples = new Map<string, number[]>();

  add(label: string, ms: number): void {
    const list = this.#samples.get(label);
    if (list) list.push(ms);
    else this.#samples.set(label, [ms]);
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

/**
 * A keep-alive HTTP client with a bounded socket pool (a browser-like number of connections, not
 * one per simulated user) that records every request's latency under its route label.
 */
export class LoadClient {
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 256 });

  constructor(readonly latencies: Latencies) {}

  /** Send `method path` to `base` with an optional JSON body and headers; never throws on a status. */
  call(
    base: string,
    label: string,
    method: string,
    path: string,
    options: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
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
          const json = /json/.test(res.headers['content-type'] ?? '') && text;
          resolve({ status: res.statusCode ?? 0, body: json ? JSON.parse(text) : text });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}
