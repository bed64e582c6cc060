/**
 * Watches one harness thread's Atomics calls on the channel's header, without changing what they
 * do: which waits time out, on the header or any array of the learner's (the thread woke itself
 * instead of being notified), and whether a call of send/close/receive notifies an index before
 * it moves it (the sleeper it wakes finds the index unchanged and sleeps again: a lost wake-up);
 * `hooks` see each move, and each wait on the header. Installed before the learner's code is
 * loaded, in case that code keeps its own reference to an Atomics function.
 */
import type { SideCells } from './control.harness.ts';

type AnyFunction = (...args: unknown[]) => unknown;
const atomics = Atomics as unknown as Record<string, AnyFunction>;
const real: Record<string, AnyFunction> = {};
for (const name of ['add', 'and', 'compareExchange', 'exchange', 'load', 'notify', 'or', 'store', 'sub', 'wait', 'waitAsync', 'xor']) {
  real[name] = atomics[name]!;
}
const count = (control: Int32Array, cell: number) => real.add!(control, cell, 1);

/** Which cell of the header `array[index]` is (through any Int32Array view of its buffer): 0 HEAD, 1 TAIL, 2 END; -1 for other memory. */
export function headerIndexOf(header: Int32Array, array: unknown, index: unknown): number {
  if (!(array instanceof Int32Array) || array.buffer !== header.buffer) return -1;
  const cell = (array.byteOffset - header.byteOffset) / Int32Array.BYTES_PER_ELEMENT + Number(index);
  return Number.isInteger(cell) && cell >= 0 && cell < header.length ? cell : -1;
}

export interface HeaderWatch {
  /** Call before each call of send, close or receive: "before it moved the index" is judged per call. */
  newCall(): void;
}

export interface MoveHooks {
  /** Runs just before this thread's Atomics call that writes header[index] (HEAD, TAIL or END). */
  beforeMove?: (index: number) => void;
  /** Runs just after it. */
  afterMove?: (index: number) => void;
  /** Runs just before this thread's Atomics.wait or Atomics.waitAsync on header[index]. */
  beforeWait?: (index: number) => void;
}

export function watchHeader(header: Int32Array, control: Int32Array, cells: SideCells, hooks: MoveHooks = {}): HeaderWatch {
  const isHeader = (array: unknown) => array instanceof Int32Array && array.buffer === header.buffer && array.byteOffset === header.byteOffset;
  let moved = new Set<number>();
  let notifiedFirst = new Set<number>();
  for (const name of ['add', 'and', 'compareExchange', 'exchange', 'or', 'store', 'sub', 'xor']) {
    atomics[name] = (...args: unknown[]) => {
      if (!isHeader(args[0])) return real[name]!(...args);
      hooks.beforeMove?.(Number(args[1]));
      const result = real[name]!(...args);
      const index = Number(args[1]);
      hooks.afterMove?.(index);
      if (notifiedFirst.has(index)) count(control, cells.notifiedBeforeMove);
      notifiedFirst.delete(index);
      moved.add(index);
      return result;
    };
  }
  atomics.notify = (...args: unknown[]) => {
    if (isHeader(args[0])) {
      count(control, cells.notifies);
      const index = Number(args[1]);
      if (!moved.has(index)) notifiedFirst.add(index);
    }
    return real.notify!(...args);
  };
  // A timed-out wait on any array but the tests' own: a thread that naps on an array of its own
  // (Atomics.wait(nap, 0, 0, 1)) and looks at the header in between polls just the same.
  const isLearners = (array: unknown) => array !== control;
  atomics.wait = (...args: unknown[]) => {
    if (isHeader(args[0])) hooks.beforeWait?.(Number(args[1]));
    const result = real.wait!(...args);
    if (isLearners(args[0]) && result === 'timed-out') count(control, cells.timedOut);
    return result;
  };
  atomics.waitAsync = (...args: unknown[]) => {
    if (isHeader(args[0])) hooks.beforeWait?.(Number(args[1]));
    const result = real.waitAsync!(...args) as { async: boolean; value: unknown };
    if (isLearners(args[0])) {
      if (result.async) void (result.value as Promise<string>).then((outcome) => outcome === 'timed-out' && count(control, cells.timedOut));
      else if (result.value === 'timed-out') count(control, cells.timedOut);
    }
    return result;
  };
  return {
    newCall() {
      moved = new Set();
      notifiedFirst = new Set();
    },
  };
}
