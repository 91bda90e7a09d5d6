// A child process of StreamHosts: holds the streams its parent opens here and reports their
// latency, events and end over IPC (see stream-hosts.ts).
import { type Latencies, StreamClient } from './http-client.js';
import type { HostCommand, HostReport } from './stream-hosts.js';

const send = (report: HostReport) => process.send?.(report);
const closing = new Map<number, AbortController>();
// The header latencies StreamClient records go straight to the parent's table.
const latencies = {
  add: (label: string, ms: number) => send({ kind: 'latency', label, ms }),
} as unknown as Latencies;
const client = new StreamClient(latencies);

process.on('message', (command: HostCommand) => {
  if (command.op === 'close') {
    closing.get(command.id)?.abort();
    return;
  }
  const { id, base, label, path, localAddress } = command;
  const abort = new AbortController();
  closing.set(id, abort);
  void client
    .stream(
      base,
      label,
      path,
      (event) => {
        send({ id, kind: 'event', event });
        return undefined;
      },
      { localAddress, signal: abort.signal },
    )
    .then((status) => {
      closing.delete(id);
      send({ id, kind: 'done', status });
    });
});
process.on('disconnect', () => process.exit(0));
