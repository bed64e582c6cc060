/**
 * Watching what code does with shared memory, without replacing anything: a spy on `Atomics`
 * that always calls the real function, and a Proxy that counts plain `array[i]` reads and writes.
 * Loaded by tests and inside harness workers, so it imports nothing (only `node:` modules would do).
 */

export type AtomicsName = 'add' | 'and' | 'compareExchange' | 'exchange' | 'load' | 'notify' | 'or' | 'store' | 'sub' | 'wait' | 'waitAsync' | 'xor';

const names: AtomicsName[] = ['add', 'and', 'compareExchange', 'exchange', 'load', 'notify', 'or', 'store', 'sub', 'wait', 'waitAsync', 'xor'];
type AnyFunction = (...args: unknown[]) => unknown;
const atomics = Atomics as unknown as Record<AtomicsName, AnyFunction>;

/**
 * The real Atomics functions, captured when this module loads. A spy's own bookkeeping uses
 * these, so it is never counted (or intercepted) by itself.
 */
export const realAtomics = {
  add: Atomics.add,
  compareExchange: Atomics.compareExchange,
  load: Atomics.load,
  notify: Atomics.notify,
  store: Atomics.store,
  sub: Atomics.sub,
  wait: Atomics.wait,
  waitAsync: Atomics.waitAsync,
} as const;

/**
 * Routes every call of an `Atomics` function on this thread through `around`, which must call
 * `proceed()` to run the real function (it may act before or after it: count the call, note a
 * thread going to sleep, or play another thread that writes in between). Returns the function
 * that puts the real ones back. Install it before the code under test is imported, in case that
 * code keeps its own reference to an Atomics function.
 */
export function spyOnAtomics(around: (name: AtomicsName, args: unknown[], proceed: () => unknown) => unknown): () => void {
  const originals = names.map((name) => [name, atomics[name]] as const);
  for (const [name, real] of originals) {
    atomics[name] = (...args: unknown[]) => around(name, args, () => real(...args));
  }
  return () => {
    for (const [name, real] of originals) atomics[name] = real;
  };
}

export interface IndexedAccessProbe {
  /** Hand this to the code under test instead of the array. */
  proxy: Int32Array;
  /** Plain `proxy[i]` reads and writes so far. */
  reads: number;
  writes: number;
}

/**
 * A stand-in for `target` that counts plain indexed reads and writes and passes them on. Every
 * Atomics function refuses it with a TypeError (it is not a typed array), so code that touches the
 * memory only through Atomics reads and writes nothing here: it throws at its first Atomics call.
 * `afterRead(index, value)` runs right after each plain read, before the caller can write back;
 * `beforeWrite(index, value)` runs just before each plain write.
 */
export function watchIndexedAccess(
  target: Int32Array,
  hooks: { afterRead?: (index: number, value: number) => void; beforeWrite?: (index: number, value: number) => void } = {},
): IndexedAccessProbe {
  const isIndex = (key: string | symbol): key is string => typeof key === 'string' && /^\d+$/.test(key);
  const probe: IndexedAccessProbe = {
    reads: 0,
    writes: 0,
    proxy: new Proxy(target, {
      get(array, key) {
        if (!isIndex(key)) {
          // length, buffer, methods: answered by the real array (its getters need it as `this`).
          const value: unknown = Reflect.get(array, key, array);
          return typeof value === 'function' ? value.bind(array) : value;
        }
        probe.reads += 1;
        const value = array[Number(key)]!;
        hooks.afterRead?.(Number(key), value);
        return value;
      },
      set(array, key, value) {
        if (!isIndex(key)) return Reflect.set(array, key, value, array);
        probe.writes += 1;
        hooks.beforeWrite?.(Number(key), value as number);
        array[Number(key)] = value as number;
        return true;
      },
    }),
  };
  return probe;
}
