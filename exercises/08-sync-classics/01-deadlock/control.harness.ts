// The layout of the shared memory through which the tests see what each thread does with the
// bank's locks: deadlock.harness.ts writes it from its spy on Atomics, the test reads it at any
// moment, even after it has stopped the threads (a stopped thread's last state stays here).

/** What the harness records for each thread (`slot`). */
export const FIELD = {
  /** 1 while the thread is inside Atomics.wait (set just before the call, cleared just after). */
  parked: 0,
  /** The cell of the bank's memory its last Atomics.wait was on (-1: another array; -2: none yet). */
  waitCell: 1,
  /** The value that wait expected, and 1 if it had a timeout (0: it waits until notified). */
  waitValue: 2,
  waitTimed: 3,
  /** Atomics calls the thread has made. */
  calls: 4,
  /** Locks it took (a cell of the bank's memory changed from 0 by its call), and let go of. */
  takes: 5,
  releases: 6,
  /** Its calls that found a lock taken (by another thread) and left it so, and the last such cell (-1: none). */
  failedTries: 7,
  lastFailed: 8,
  /** Transfers that have returned. */
  transfers: 9,
  /** The first two locks its first transfer took, in order (-1 until then). */
  firstTake: 10,
  secondTake: 11,
  /** Its Atomics.wait calls with a timeout (naps), on any array. */
  timedWaits: 12,
} as const;
export type Field = keyof typeof FIELD;
const FIELDS = 13;

/** control[RELEASE]: the test sets it to 1 to let a thread it holds go on. */
export const RELEASE = 0;
/** control[NAP]: always 0; the harness naps on it. */
export const NAP = 1;
const THREADS = 2;
const CELLS = 3;
const HEADER = 4;

/** Holder of a lock the test itself took (playing another thread). */
export const TEST_HOLDS = 1_000;

/** Control memory for `threads` threads over a bank memory of `cells` cells. */
export function createControl(threads: number, cells: number): Int32Array {
  const control = new Int32Array(new SharedArrayBuffer((HEADER + threads * FIELDS + cells) * Int32Array.BYTES_PER_ELEMENT));
  control[THREADS] = threads;
  control[CELLS] = cells;
  for (let slot = 0; slot < threads; slot += 1) {
    control[fieldIndex(control, slot, 'waitCell')] = -2;
    control[fieldIndex(control, slot, 'lastFailed')] = -1;
    control[fieldIndex(control, slot, 'firstTake')] = -1;
    control[fieldIndex(control, slot, 'secondTake')] = -1;
  }
  return control;
}

export function fieldIndex(control: Int32Array, slot: number, field: Field): number {
  if (slot < 0 || slot >= control[THREADS]!) throw new RangeError(`no thread ${slot} in this control memory`);
  return HEADER + slot * FIELDS + FIELD[field];
}

/** Where the holder of `cell` is kept: 0 for nobody, slot + 1 for a thread, TEST_HOLDS for the test. */
export function holderIndex(control: Int32Array, cell: number): number {
  return HEADER + control[THREADS]! * FIELDS + cell;
}

/** One thread's fields, read at once. */
export type ThreadState = Record<Field, number>;

export interface Snapshot {
  threads: ThreadState[];
  /** The holder of each cell of the bank's memory (see holderIndex). */
  holders: number[];
}

export function snapshot(control: Int32Array): Snapshot {
  const threads = Array.from({ length: control[THREADS]! }, (_, slot) => {
    const state = {} as ThreadState;
    for (const field of Object.keys(FIELD) as Field[]) state[field] = Atomics.load(control, fieldIndex(control, slot, field));
    return state;
  });
  const holders = Array.from({ length: control[CELLS]! }, (_, cell) => Atomics.load(control, holderIndex(control, cell)));
  return { threads, holders };
}
