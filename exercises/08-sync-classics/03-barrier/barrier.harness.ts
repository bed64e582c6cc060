// The tests' worker: plays one thread that uses the Barrier under test. It reports each arrival
// and each departure in a message, so the test can tell who is still in the barrier, and the test
// stops it when its time is up. Every call into the Barrier happens here, never on the test's own
// thread.
import { parentPort, workerData } from 'node:worker_threads';
import { announceThread } from '#kata/inside/announce-thread.ts';
import { type AtomicsName, realAtomics, spyOnAtomics } from '#kata/inside/atomics-spy.ts';
import { arriveAndWait as startTogether } from '#kata/inside/start-barrier.ts';
import { targetUrl } from '#kata/inside/target.ts';
import type * as BarrierModule from './barrier.ts';
import { controlCells, type HarnessData, SEEN } from './control.harness.ts';

const data = workerData as HarnessData;
const { control, memory } = data;
const c = controlCells;
const post = (type: string, details: object = {}) => parentPort!.postMessage({ type, ...details });

/** Which cell of the memory `array[index]` is, or -1 when `array` is not a view of the memory's buffer. */
function cellOf(array: unknown, index: unknown): number {
  if (!ArrayBuffer.isView(array) || array.buffer !== memory.buffer || !(array instanceof Int32Array)) return -1;
  const cell = (array.byteOffset - memory.byteOffset) / Int32Array.BYTES_PER_ELEMENT + Number(index);
  return Number.isInteger(cell) && cell >= 0 && cell < memory.length ? cell : -1;
}

const writes = new Set<AtomicsName>(['add', 'sub', 'and', 'or', 'xor', 'exchange', 'compareExchange', 'store']);

/** The round arriveAndWait() is in (-1 outside it), and what the spy has seen of it. */
let round = -1;
let wokenThisCall = false;
/** Atomics calls of this arriveAndWait() that wrote to the memory. */
let writesThisCall = 0;
let paused = false;
/** After a pause: the calls the thread makes (at most 20), each also posted at once, in case it never returns. */
let afterPause: string[] | undefined;

function describe(name: AtomicsName, args: unknown[], result: unknown): string {
  const cell = cellOf(args[0], args[1]);
  const where = cell === -1 ? 'another array' : `cells, ${cell}`;
  const rest = args.slice(2).map(String);
  return `Atomics.${name}(${[where, ...rest].join(', ')})${result === undefined ? '' : ` → ${typeof result === 'string' ? `'${result}'` : String(result)}`}`;
}

function pause(after: string): void {
  paused = true;
  post('paused', { after });
  while (realAtomics.load(control, c.resume) === 0) realAtomics.wait(control, c.resume, 0, 1_000);
  afterPause = [];
}

if (data.role === 'party' || data.role === 'solo') {
  // The spy goes in before the code under test is loaded, in case it keeps a reference to an Atomics function.
  spyOnAtomics((name, args, proceed) => {
    if (round < 0) return proceed();
    realAtomics.add(control, c.calls, 1);
    const cell = cellOf(args[0], args[1]);
    let result: unknown;
    if (name === 'wait') {
      realAtomics.store(control, c.lastWaitCell, cell);
      realAtomics.store(control, c.lastWaitValue, Number(args[2]));
      realAtomics.add(control, c.waits, 1);
      if (wokenThisCall) realAtomics.add(control, c.rewaits, 1);
      // Noted before it sleeps, so that the test can see it asleep; undone when it wakes.
      if (afterPause && afterPause.length < 20) {
        const line = describe(name, args, undefined);
        afterPause.push(line);
        post('call', { line });
      }
      realAtomics.store(control, c.parked, 1);
      try {
        result = proceed();
      } finally {
        realAtomics.store(control, c.parked, 0);
      }
      if (result !== 'not-equal') realAtomics.add(control, c.slept, 1);
      if (result === 'timed-out') realAtomics.add(control, c.timedOut, 1);
      if (result === 'ok') wokenThisCall = true;
      if (!paused && result === 'ok' && data.pauseAfterWake === round) pause('wake');
      return result;
    }
    result = proceed();
    if (name === 'notify') {
      realAtomics.store(control, c.lastNotifyCell, cell);
      if (cell === data.index || cell === data.index + 1) {
        realAtomics.add(control, c.notifies, 1);
        realAtomics.add(control, c.woken, Number(result));
        const count = args[2] === undefined || args[2] === Infinity ? -1 : Number(args[2]);
        const asked = realAtomics.load(control, c.askedToWake);
        if (asked !== -1 && (count === -1 || count > asked)) realAtomics.store(control, c.askedToWake, count);
      } else {
        realAtomics.add(control, c.notifiesElsewhere, 1);
      }
    }
    if (afterPause && afterPause.length < 20) {
      const line = describe(name, args, result);
      afterPause.push(line);
      post('call', { line });
    }
    if (!paused && name === 'notify' && data.pauseAfterNotify === round) pause('notify');
    else if (cell !== -1 && writes.has(name) && (name !== 'compareExchange' || Number(result) === (Number(args[2]) | 0))) {
      writesThisCall += 1;
      const at = data.pauseAfterWrite;
      if (!paused && at?.round === round && at.writes === writesThisCall) pause(describe(name, args, result));
    }
    return result;
  });
}

// No top-level await (CONTRIBUTING, rule 8: Node crashes if a test stops a worker as its async module starts).
async function main(): Promise<void> {
  const { Barrier } = (await import(targetUrl(import.meta.url, './barrier.ts').href)) as typeof BarrierModule;

  /** Runs one arriveAndWait() as round `r`, with the spy's notes for this call. */
  function arriveIn(barrier: BarrierModule.Barrier, r: number): boolean {
    round = r;
    wokenThisCall = false;
    writesThisCall = 0;
    try {
      return barrier.arriveAndWait();
    } finally {
      round = -1;
    }
  }

  switch (data.role) {
    case 'party': {
      announceThread();
      const before = [...memory];
      const barrier = new Barrier(memory, data.parties, data.index);
      post('built', { before, after: [...memory] });
      for (let r = 0; r < data.rounds; r += 1) {
        // Wait for the test's go (bounded: the test stops this worker long before).
        for (let go = realAtomics.load(control, c.go); go <= r; go = realAtomics.load(control, c.go)) realAtomics.wait(control, c.go, go, 1_000);
        post('arriving', { round: r });
        const result = arriveIn(barrier, r);
        realAtomics.store(control, c.roundsLeft, r + 1);
        post('left', { round: r, result, afterPause });
      }
      post('done');
      break;
    }

    case 'solo': {
      // One party: every call must return true at once.
      let barrier: BarrierModule.Barrier;
      try {
        barrier = new Barrier(memory, data.parties, data.index);
      } catch (error) {
        if (!(error instanceof RangeError)) throw error;
        post('done', { refused: `a RangeError (${error.message})` });
        break;
      }
      const results = new Set<unknown>();
      for (let r = 0; r < data.rounds; r += 1) results.add(arriveIn(barrier, r));
      post('done', { results: [...results], slept: realAtomics.load(control, c.slept), memory: [...memory] });
      break;
    }

    case 'arguments': {
      // A barrier of one party first: the stub's "Not implemented yet" fails the test here.
      try {
        new Barrier(memory, 1, 0).arriveAndWait();
      } catch (error) {
        if (error instanceof Error && error.message.startsWith('Not implemented yet')) throw error;
      }
      const outcomes: Record<string, string> = {};
      for (const parties of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, -Number.POSITIVE_INFINITY]) {
        try {
          new Barrier(memory, parties, 0);
          outcomes[`new Barrier(memory, ${parties})`] = 'built';
        } catch (error) {
          outcomes[`new Barrier(memory, ${parties})`] = error instanceof RangeError ? 'RangeError' : `threw ${(error as Error).name}`;
        }
      }
      post('done', { outcomes, memory: [...memory] });
      break;
    }

    case 'race': {
      // Every thread notes the rounds it has arrived in before it arrives, and on leaving a round
      // checks the others: each must have arrived in it, and none may be two rounds ahead.
      const { me, arrivedIn, leaders, seen, rounds, parties } = data as Required<HarnessData>;
      const barrier = new Barrier(memory, parties, data.index);
      startTogether(data.gate!, parties);
      post('started');
      for (let r = 0; r < rounds; r += 1) {
        realAtomics.store(arrivedIn, me, r + 1);
        if (barrier.arriveAndWait()) realAtomics.add(leaders, r, 1);
        for (let other = 0; other < parties; other += 1) {
          const arrived = realAtomics.load(arrivedIn, other);
          if (arrived < r + 1 && realAtomics.add(seen, SEEN.early, 1) === 0) {
            realAtomics.store(seen, SEEN.round, r);
            realAtomics.store(seen, SEEN.leaver, me);
            realAtomics.store(seen, SEEN.laggard, other);
            realAtomics.store(seen, SEEN.laggardArrived, arrived);
          }
          if (arrived > r + 2) realAtomics.add(seen, SEEN.ahead, 1);
        }
      }
      post('done');
      break;
    }
  }
}

void main();
