import { clusterSlot, hashTagOf, keyPart } from '@boxoffice/internal';

/** The Redis keys of one resource. All three share the resource's Cluster slot. */
export interface ResourceKeys {
  readonly resource: string;
  readonly lock: string;
  readonly fence: string;
  readonly wait: string;
}

/**
 * `{tag}` rule: a resource with a non-empty balanced `{tag}` keeps it (`bo:lock:{concert-1}:A1`), so
 * a concert's seats can share one Cluster slot; any other name is wrapped whole (`bo:lock:{A1}`).
 */
export function resourceKeys(prefix: string, resource: string): ResourceKeys {
  const tagged = hashTagOf(resource) !== resource;
  const part = tagged ? resource : `{${resource}}`;
  const lock = `${prefix}:lock:${part}`;
  return {
    resource,
    lock,
    fence: `${prefix}:fence:${part}`,
    wait: `${prefix}:wait:${part}`,
  };
}

/** Validate a resource list (non-empty, valid names, no duplicates) before any Redis call. */
export function checkResources(prefix: string, value: unknown): ResourceKeys[] {
  if (!Array.isArray(value)) {
    throw new TypeError(`resources must be an array of strings, got ${typeof value}`);
  }
  if (value.length === 0) throw new RangeError('resources must not be empty');
  if (value.length > 1000) {
    throw new RangeError(`resources must have at most 1000 entries, got ${value.length}`);
  }
  const seen = new Map<string, string>();
  return value.map((r, i) => {
    const name = keyPart(`resources[${i}]`, r);
    const keys = resourceKeys(prefix, name);
    const earlier = seen.get(keys.lock);
    if (earlier !== undefined) {
      throw new RangeError(
        `resources must not repeat a resource: ${JSON.stringify(name)} is the same lock as ${JSON.stringify(earlier)}`,
      );
    }
    seen.set(keys.lock, name);
    return keys;
  });
}

/**
 * Split into slot groups in a fixed global order (slot, then name): every caller locks groups in the
 * same order, so two multi-seat acquisitions can never wait on each other in a cycle. Standalone
 * servers get one group.
 */
export function slotGroups(keys: ResourceKeys[], cluster: boolean): ResourceKeys[][] {
  if (keys.length === 1) return [keys];
  const byName = (a: ResourceKeys, b: ResourceKeys) =>
    a.lock < b.lock ? -1 : a.lock > b.lock ? 1 : 0;
  if (!cluster) return [[...keys].sort(byName)];
  const slots = new Map(keys.map((k) => [k, clusterSlot(k.lock)]));
  const slot = (k: ResourceKeys) => slots.get(k) as number;
  const sorted = [...keys].sort((a, b) => slot(a) - slot(b) || byName(a, b));
  const groups: ResourceKeys[][] = [];
  for (const k of sorted) {
    const last = groups[groups.length - 1];
    if (last && slot(last[0] as ResourceKeys) === slot(k)) last.push(k);
    else groups.push([k]);
  }
  return groups;
}
