import type { TickMessage } from './room-events.js';
import type { AdmissionOrder } from './room-settings.js';
import type { TickResult } from './room-status.js';
import { decodeUserId } from './user-id.js';

type Reply = [
  ...[ok: number, tick: number, at: number, serving: number, waiting: number, active: number],
  ...[admitted: (string | number)[], evicted: string[], expired: string[], paused: number],
  ...[maxActive: number, admitPerTick: number, order: AdmissionOrder],
];

/**
 * Read tick.lua's reply (see its header): `'lease'` when another ticker holds the lease, `'closed'`
 * for a closed room, else the round's {@link TickResult} and the {@link TickMessage} to publish.
 */
export function readTickReply(
  reply: unknown,
): 'lease' | 'closed' | { result: TickResult; message: TickMessage } {
  const r = reply as Reply;
  if (r[0] === 0) return 'lease';
  if (r[0] === -1) return 'closed';
  const [, tick, at, servingTicket, waiting, active, flat] = r;
  const paused = r[9] === 1;
  const [maxActive, admitPerTick, order] = [r[10], r[11], r[12]];
  const evicted = r[7].map(decodeUserId);
  const expired = r[8].map(decodeUserId);
  const admitted: TickResult['admitted'] = [];
  for (let i = 0; i < flat.length; i += 3) {
    admitted.push({
      userId: decodeUserId(flat[i] as string),
      expiresAt: flat[i + 1] as number,
      jti: flat[i + 2] as string,
    });
  }
  const message: TickMessage = {
    tick,
    at,
    servingTicket,
    waiting,
    active,
    admitted: admitted.map((a) => [a.userId, a.expiresAt]),
    evicted,
    expired,
    paused,
  };
  const settings = Object.freeze({ maxActive, admitPerTick, order });
  const result: TickResult = {
    tick,
    at,
    admitted,
    evicted,
    expired,
    servingTicket,
    waiting,
    active,
    paused,
    settings,
  };
  return { result, message };
}
