/**
 * Put `key` → `value` in `map` as its newest entry, then forget the oldest entries beyond `max`
 * (a Map iterates in insertion order): the bounded per-process caches of the app use it.
 */
export function remember<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done) break;
    map.delete(oldest.value);
  }
}
