// The tests' worker: plays one thread that uses the RWLock under test. An 'actor' is a puppet:
// it waits for the test's next command (readLock, readUnlock, writeLock, writeUnlock on one of
// the locks in `memory`), runs it, and says so; so a reader stays inside until the test tells it
// to leave, and a call that never returns leaves the thread where the test can see it (asleep on
// which cell, expecting what) and stop it. Every blocking call happens here, never on the test's
// own thread. A spy on Atomics in this thread records what the lock does with its cells.
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { announceThread } from '#kata/inside/announce-thread.ts';
import { type AtomicsName, realAtomics, spyOnAtomics, watchIndexedAccess } from '#kata/inside/atomics-spy.ts';
import { arriveAndWait } from '#kata/inside/start-barrier.ts';
import { targetUrl } from '#kata/inside/target.ts';
import type * as RWLockModule from './rwlock.ts';

export type Op = 'readLock' | 'readUnlock' | 'writeLock' | 'writeUnlock';

/** Where an actor keeps its counters, in its own `control` (shared memory the test reads). */
export interface ActorCells {
  /** Commands sent so far (the test adds 1 and notifies; the command itself comes as a message). */
  seq: number;
  /** The test sets it to 1 to let a paused call go on. */
  go: number;
  /** 1 while the lock's code is asleep in Atomics.wait in this thread. */
  parked: number;
  /** Atomics.wait calls made by the lock's code; those that returned 'timed-out'. */
  waits: number;
  timedOut: number;
  /** Atomics calls made by the lock's code. */
  calls: number;
  /** The last Atomics.wait: on which cell of `memory` (-1: another array; -2: never), expecting which value. */
  lastWaitCell: number;
  lastWaitValue: number;
  /** Atomics.notify calls on the current lock's cells; a bit per cell notified (reset by the test); threads they woke. */
  notifies: number;
  notifyMask: number;
  woken: number;
  /** The largest count those notifies asked to wake (-1: all; the test sets -2 before a call: none asked). */
  askedToWake: number;
  /** Atomics.notify calls on any other cell or array. */
  notifiesElsewhere: number;
}

/** What the test sends an actor, one command at a time. */
export interface Command {
  op: Op;
  /** The lock's first cell in `memory`. */
  lock: number;
  /**
   * Pause this call right after its `pauseAt`-th Atomics call on the lock's cells that changed none
   * of them (a load, an add of 0, a compareExchange that failed): the test then lets another thread
   * act, and sets `go`. 0: no pause.
   */
  pauseAt: number;
  /**
   * Hold this call right after its first Atomics.wait on the lock's cells that a notify woke (it
   * returned 'ok'), before it looks at the lock again: the test lets another thread arrive
   * meanwhile, and sets `go`.
   */
  holdAfterWake?: boolean;
}

/** The call an actor is running: its command, and how far its pauses have got. */
type Running = Command & { readOnly: number; paused: boolean; seq: number };

export interface HarnessData {
  role: 'actor' | 'probe' | 'sequence' | 'stress';
  cells: ActorCells;
  /** How many cells a lock uses (RWLOCK_CELLS, passed by the test so that a stub cannot change it). */
  lockCells: number;
  memory: Int32Array;
  control: Int32Array;
  /** actor, stress: per lock (its first cell / lockCells), readers and writers inside right now. */
  presence?: Int32Array;
  /** sequence: where its lock starts. */
  lockIndex?: number;
  /** stress */
  kind?: 'reader' | 'writer';
  times?: number;
  /** stress: two cells a writer sets together, which a reader must always find equal. */
  data?: Int32Array;
  gate?: Int32Array;
  parties?: number;
}

const data = workerData as HarnessData;
const { cells, control, memory, lockCells } = data;
const post = (type: string, details: object = {}) => parentPort!.postMessage({ type, ...details });
const n = (value: number) => value.toLocaleString('en-US');

/** The cell of `memory` that `array[index]` is (through any Int32Array view of its buffer), or -1 for other memory. */
function cellOf(array: unknown, index: unknown): number {
  if (!(array instanceof Int32Array) || array.buffer !== memory.buffer) return -1;
  return (array.byteOffset - memory.byteOffset) / Int32Array.BYTES_PER_ELEMENT + Number(index);
}

/** Thrown into the lock's code where a single thread would wait forever or loop: the test reports it. */
class Stuck extends Error {}

// No top-level await (CONTRIBUTING, rule 8: Node crashes if a test stops a worker as its async module starts).
switch (data.role) {
  case 'actor':
    void actor();
    break;
  case 'probe':
    void probe();
    break;
  case 'sequence':
    void sequence();
    break;
  case 'stress':
    void stress();
    break;
}

async function actor(): Promise<void> {
  const presence = data.presence!;
  let current: Running | undefined;
  spyOnAtomics((name, args, proceed) => {
    const now = current;
    if (!now) return proceed();
    realAtomics.add(control, cells.calls, 1);
    const cell = cellOf(args[0], args[1]);
    const own = cell >= now.lock && cell < now.lock + lockCells;
    if (name === 'wait') return asleep(cell, args, proceed, own ? now : undefined);
    if (name === 'notify') {
      const woken = proceed();
      if (own) {
        realAtomics.add(control, cells.notifies, 1);
        realAtomics.store(control, cells.notifyMask, realAtomics.load(control, cells.notifyMask) | (1 << (cell - now.lock)));
        realAtomics.add(control, cells.woken, Number(woken));
        const count = args[2] === undefined || args[2] === Infinity ? -1 : Number(args[2]);
        const asked = realAtomics.load(control, cells.askedToWake);
        if (asked !== -1 && (count === -1 || count > asked)) realAtomics.store(control, cells.askedToWake, count);
      } else {
        realAtomics.add(control, cells.notifiesElsewhere, 1);
      }
      return woken;
    }
    if (!own || now.pauseAt === 0 || now.paused) return proceed();
    // Did this call leave every cell of the lock as it was? Then it only read them.
    const before = memory.slice(now.lock, now.lock + lockCells);
    const result = proceed();
    const unchanged = before.every((value, offset) => realAtomics.load(memory, now.lock + offset) === value);
    if (unchanged && ++now.readOnly === now.pauseAt) {
      // Hold this thread right here, between a read and whatever it does next, while the test
      // lets another thread arrive or leave.
      now.paused = true;
      post('paused', { seq: now.seq, call: name, cell: cell - now.lock, value: Number(result) });
      holdUntilGo();
    }
    return result;
  });

  const { RWLock } = (await import(targetUrl(import.meta.url, './rwlock.ts').href)) as typeof RWLockModule;
  const locks = new Map<number, RWLockModule.RWLock>();
  announceThread();
  post('ready');
  for (let seq = 1; ; seq += 1) {
    while (realAtomics.load(control, cells.seq) < seq) realAtomics.wait(control, cells.seq, seq - 1, 1_000);
    let received = receiveMessageOnPort(parentPort!);
    while (!received) {
      // The test posts the command before it moves seq: it is a moment away at most.
      realAtomics.wait(control, cells.seq, realAtomics.load(control, cells.seq), 1);
      received = receiveMessageOnPort(parentPort!);
    }
    const command = received.message as Command;
    const lock = locks.get(command.lock) ?? new RWLock(memory, command.lock);
    locks.set(command.lock, lock);
    const readers = (2 * command.lock) / lockCells;
    const writers = readers + 1;
    post('calling', { seq, op: command.op });
    // Leaving: no longer inside once the unlock starts.
    if (command.op === 'readUnlock') realAtomics.sub(presence, readers, 1);
    if (command.op === 'writeUnlock') realAtomics.sub(presence, writers, 1);
    current = { ...command, readOnly: 0, paused: false, seq };
    try {
      lock[command.op]();
    } finally {
      current = undefined;
    }
    // Who else was inside when this thread got in.
    if (command.op === 'readLock') {
      const writersInside = realAtomics.load(presence, writers);
      post('inside', { seq, op: command.op, readers: realAtomics.add(presence, readers, 1), writers: writersInside });
    } else if (command.op === 'writeLock') {
      const writersInside = realAtomics.add(presence, writers, 1);
      post('inside', { seq, op: command.op, readers: realAtomics.load(presence, readers), writers: writersInside });
    } else {
      post('left', { seq, op: command.op });
    }
  }
}

/** Holds this thread until the test sets `go`, and takes the `go` back. */
function holdUntilGo(): void {
  while (realAtomics.load(control, cells.go) === 0) realAtomics.wait(control, cells.go, 0, 1_000);
  realAtomics.store(control, cells.go, 0);
}

/** Records an Atomics.wait of the lock's code, around the real one; `now`: the running call, for a wait on its lock's cells. */
function asleep(cell: number, args: unknown[], proceed: () => unknown, now?: Running): unknown {
  realAtomics.store(control, cells.lastWaitCell, cell);
  realAtomics.store(control, cells.lastWaitValue, Number(args[2]));
  realAtomics.add(control, cells.waits, 1);
  realAtomics.store(control, cells.parked, 1);
  let result: unknown;
  try {
    result = proceed();
  } finally {
    realAtomics.store(control, cells.parked, 0);
  }
  if (result === 'timed-out') realAtomics.add(control, cells.timedOut, 1);
  if (result === 'ok' && now?.holdAfterWake && !now.paused) {
    // Woken by a notify, and not yet back at the lock: hold it here while the test lets another
    // thread arrive.
    now.paused = true;
    post('paused', { seq: now.seq, call: 'wait', cell: cell - now.lock, value: String(result) });
    holdUntilGo();
  }
  return result;
}

/**
 * For a thread alone with its lock: an Atomics.wait that would sleep with no timeout (nobody else
 * can wake it), too many timed waits, or too many calls in one method: stop there and say so.
 */
function aloneGuard(onCall: (name: AtomicsName, args: unknown[]) => void) {
  let calls = 0;
  let waits = 0;
  spyOnAtomics((name, args, proceed) => {
    onCall(name, args);
    calls += 1;
    if (name === 'wait') {
      waits += 1;
      const [target, index, expected, timeout] = args as [unknown, number, number, number | undefined];
      const forever = timeout === undefined || timeout === Infinity || Number.isNaN(Number(timeout));
      if (forever && target instanceof Int32Array && realAtomics.load(target, Number(index)) === Number(expected)) {
        const cell = cellOf(target, index);
        throw new Stuck(
          `Atomics.wait(cells, ${cell}, ${expected}) with no timeout, while cell ${cell} held ${expected}: asleep for good, with no other thread to wake it`,
        );
      }
      if (waits > 200) throw new Stuck(`${waits} Atomics.wait calls with a timeout in one call, each timing out: it polls, and nothing it waits for will come`);
    }
    if (calls > 200_000) throw new Stuck(`over ${n(200_000)} Atomics calls in one call without getting anywhere: it loops`);
    return proceed();
  });
  return () => {
    calls = 0;
    waits = 0;
  };
}

/** One thread, one lock: plain `cells[i]` reads and writes of the lock's cells, counted per method. */
async function probe(): Promise<void> {
  const ops: Op[] = ['readLock', 'readLock', 'readUnlock', 'readUnlock', 'writeLock', 'writeUnlock'];
  type Access = { reads: Record<number, number>; writes: Record<number, number> };
  const access: Partial<Record<Op, Access>> = {};
  let method: Op = 'readLock';
  const count = (kind: 'reads' | 'writes', cell: number) => {
    const of = (access[method] ??= { reads: {}, writes: {} })[kind];
    of[cell] = (of[cell] ?? 0) + 1;
  };
  // Every Atomics call given one of these stand-ins runs on the real array behind it, so code that
  // mixes Atomics and plain indexing runs as usual, and only its plain accesses are counted.
  const realOf = new Map<unknown, Int32Array>();
  const watch = (array: Int32Array): Int32Array => {
    const offset = (array.byteOffset - memory.byteOffset) / Int32Array.BYTES_PER_ELEMENT;
    const probe = watchIndexedAccess(array, { afterRead: (index) => count('reads', offset + index), beforeWrite: (index) => count('writes', offset + index) });
    // A view made with subarray() is watched too.
    const proxy = new Proxy(probe.proxy, {
      get(target, key) {
        if (key === 'subarray') return (begin?: number, end?: number) => watch(array.subarray(begin, end));
        return Reflect.get(target, key);
      },
    });
    realOf.set(proxy, array);
    return proxy;
  };
  const reset = aloneGuard((_name, args) => {
    const real = realOf.get(args[0]);
    if (real) args[0] = real;
  });
  const { RWLock } = (await import(targetUrl(import.meta.url, './rwlock.ts').href)) as typeof RWLockModule;
  const lock = new RWLock(watch(memory), 0);
  for (const [step, op] of ops.entries()) {
    method = op;
    post('step', { call: `${op}() (call ${step + 1} of: ${ops.join(', ')})` });
    reset();
    try {
      lock[op]();
    } catch (error) {
      if (!(error instanceof Stuck)) throw error;
      post('done', { access, stuck: { op, step, why: error.message } });
      return;
    }
  }
  post('done', { access });
}

/** One thread, one lock at `lockIndex` with other cells around it: the calls never wait, the neighbours stay. */
async function sequence(): Promise<void> {
  const lockIndex = data.lockIndex!;
  const outside = new Set<number>();
  const reset = aloneGuard((_name, args) => {
    const cell = cellOf(args[0], args[1]);
    if (cell !== -1 && (cell < lockIndex || cell >= lockIndex + lockCells)) outside.add(cell);
  });
  const { RWLock } = (await import(targetUrl(import.meta.url, './rwlock.ts').href)) as typeof RWLockModule;
  const lock = new RWLock(memory, lockIndex);
  const ops: Op[] = ['readLock', 'readLock', 'readUnlock', 'readUnlock', 'writeLock', 'writeUnlock', 'readLock', 'readUnlock', 'writeLock', 'writeUnlock'];
  for (const [step, op] of ops.entries()) {
    post('step', { call: `${op}()`, step });
    reset();
    try {
      lock[op]();
    } catch (error) {
      if (!(error instanceof Stuck)) throw error;
      post('done', { stuck: { op, step, why: error.message }, ops, outside: [...outside], memory: [...memory] });
      return;
    }
  }
  post('done', { ops, outside: [...outside], memory: [...memory] });
}

/** Many turns of one reader or writer, started together with the others by the start barrier. */
async function stress(): Promise<void> {
  const { RWLock } = (await import(targetUrl(import.meta.url, './rwlock.ts').href)) as typeof RWLockModule;
  const lock = new RWLock(memory, 0);
  const presence = data.presence!;
  const pair = data.data!;
  // control: [0] a writer got in with someone inside, [1] a reader got in with a writer inside, [2] a reader saw a half-written pair
  let turns = 0;
  arriveAndWait(data.gate!, data.parties!);
  post('started');
  for (let turn = 0; turn < data.times!; turn += 1) {
    if (data.kind === 'writer') {
      lock.writeLock();
      if (realAtomics.add(presence, 1, 1) !== 0 || realAtomics.load(presence, 0) !== 0) realAtomics.add(control, 0, 1);
      // Plain writes: only a writer alone can make both cells move together.
      const value = pair[0]! + 1;
      pair[0] = value;
      pair[1] = value;
      realAtomics.sub(presence, 1, 1);
      lock.writeUnlock();
    } else {
      lock.readLock();
      realAtomics.add(presence, 0, 1);
      if (realAtomics.load(presence, 1) !== 0) realAtomics.add(control, 1, 1);
      if (pair[0] !== pair[1]) realAtomics.add(control, 2, 1);
      realAtomics.sub(presence, 0, 1);
      lock.readUnlock();
    }
    turns += 1;
  }
  post('done', { turns });
}
