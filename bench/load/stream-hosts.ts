import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Latencies, StreamEvent } from './http-client.js';
import { cpuSeconds } from './process-stats.js';

/** What the parent asks a stream host to do. */
export type HostCommand =
  | { op: 'open'; id: number; base: string; label: string; path: string; localAddress: string }
  | { op: 'close'; id: number };

/** What a stream host reports about one stream. */
export type HostReport =
  | { kind: 'latency'; label: string; ms: number }
  | { id: number; kind: 'event'; event: StreamEvent }
  | { id: number; kind: 'done'; status: number };

interface Pending {
  onEvent: (event: StreamEvent) => boolean | undefined;
  resolve: (status: number) => void;
}

/**
 * Server-Sent Event streams held by child processes (`stream-host.ts`), for more streams than one
 * process may hold sockets (this container: 20,000 open files per process, a hard limit). Same
 * contract as `StreamClient.stream`: `onEvent` for each event until the server ends the stream or
 * `onEvent` returns `false`; resolves with the HTTP status (0: no answer). Events cross one IPC hop.
 */
export class StreamHosts {
  readonly #hosts: ChildProcess[];
  readonly #pending = new Map<number, Pending>();
  readonly #latencies: Latencies;
  readonly #localAddresses: string[];
  #next = 0;

  constructor(latencies: Latencies, localAddresses: string[], processes: number) {
    this.#latencies = latencies;
    this.#localAddresses = localAddresses;
    const entry = fileURLToPath(new URL('./stream-host.ts', import.meta.url));
    this.#hosts = Array.from({ length: processes }, () => {
      const host = fork(entry, [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
      host.on('message', (report: HostReport) => this.#report(report));
      return host;
    });
  }

  stream(
    base: string,
    label: string,
    path: string,
    onEvent: (event: StreamEvent) => boolean | undefined,
  ): Promise<number> {
    const id = this.#next++;
    const host = this.#hosts[id % this.#hosts.length] as ChildProcess;
    const localAddress = this.#localAddresses[id % this.#localAddresses.length] as string;
    return new Promise((resolve) => {
      this.#pending.set(id, { onEvent, resolve });
      const command: HostCommand = { op: 'open', id, base, label, path, localAddress };
      host.send(command);
    });
  }

  #report(report: HostReport): void {
    if (report.kind === 'latency') {
      this.#latencies.add(report.label, report.ms);
      return;
    }
    const pending = this.#pending.get(report.id);
    if (!pending) return;
    if (report.kind === 'done') {
      this.#pending.delete(report.id);
      pending.resolve(report.status);
      return;
    }
    if (pending.onEvent(report.event) === false) {
      const host = this.#hosts[report.id % this.#hosts.length] as ChildProcess;
      const command: HostCommand = { op: 'close', id: report.id };
      host.send(command);
      // The stream is over for the caller now; the host's `done` finds nothing pending.
      this.#pending.delete(report.id);
      pending.resolve(200);
    }
  }

  /** User + system CPU seconds of the host processes so far. */
  cpuSeconds(): number {
    return this.#hosts.reduce((sum, host) => sum + cpuSeconds(host.pid), 0);
  }

  close(): void {
    for (const host of this.#hosts) host.kill();
  }
}
