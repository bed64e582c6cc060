/**
 * Wraps `load` so that concurrent calls for the same key share one call of `load`: the returned
 * `get(key)` resolves or rejects as `load(key)` does. A call is shared only while it is in flight;
 * once it has settled (resolved or failed), the next `get(key)` calls `load(key)` again.
 */
export function singleFlight<V>(load: (key: string) => Promise<V>): (key: string) => Promise<V> {
  // TODO: keep the promise of each call in flight by its key, share it with every caller of that
  // key, and forget it once it settles.
  throw new Error('Not implemented yet: singleFlight() in exercises/07-async-depth/04-single-flight/single-flight.ts (see README.md there)');
}
