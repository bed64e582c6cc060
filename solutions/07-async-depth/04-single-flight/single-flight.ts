/**
 * Wraps `load` so that concurrent calls for the same key share one call of `load`: the returned
 * `get(key)` resolves or rejects as `load(key)` does. A call is shared only while it is in flight;
 * once it has settled (resolved or failed), the next `get(key)` calls `load(key)` again.
 */
export function singleFlight<V>(load: (key: string) => Promise<V>): (key: string) => Promise<V> {
  const inFlight = new Map<string, Promise<V>>();
  return (key) => {
    const shared = inFlight.get(key);
    if (shared !== undefined) return shared;
    // `finally` forgets the call once it settles, success or failure, so the next caller asks again
    // and a failure is never served twice. Every caller gets the promise `finally` returned: it
    // settles as the call did, and each caller handles it, so a failure is never left unhandled
    // (keeping the first promise and dropping this one would leave its rejection to nobody).
    const call = load(key).finally(() => inFlight.delete(key));
    // In the map before anything is awaited: a caller that comes a moment or many turns later,
    // while the call is in flight, finds it.
    inFlight.set(key, call);
    return call;
  };
}
