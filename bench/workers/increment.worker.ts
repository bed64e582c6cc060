// One thread of the increment benchmark: on each message it meets the other threads at a start
// barrier, adds 1 to the shared counter `count` times in the way `kind` says, and reports when
// it started and ended (epoch ms, comparable across threads).
import { parentPort, workerData } from 'node:worker_threads';
import { Mutex } from '../../solutions/05-races/02-mutex/mutex.ts';
import { COUNTER, GO, LOCK, ARRIVED, type IncrementKind } from './increment.ts';

const { shared, kind, threads } = workerData as { shared: SharedArrayBuffer; kind: IncrementKind; threads: number };
const cells = new Int32Array(shared);
const mutex = new Mutex(cells, LOCK);
const clock = () => performance.timeOrigin + performance.now();

const increments: Record<IncrementKind, (count: number) => void> = {
  plain(count) {
    for (let i = 0; i < count; i++) cells[COUNTER]!++;
  },
  atomic(count) {
    for (let i = 0; i < count; i++) Atomics.add(cells, COUNTER, 1);
  },
  mutex(count) {
    for (let i = 0; i < count; i++) {
      mutex.lock();
      cells[COUNTER]!++;
      mutex.unlock();
    }
  },
};

parentPort!.on('message', ({ count, generation }: { count: number; generation: number }) => {
  // The last thread to arrive opens the gate for this generation; the others sleep until then,
  // so that all threads increment at the same time instead of one after another.
  if (Atomics.add(cells, ARRIVED, 1) + 1 === threads) {
    Atomics.store(cells, GO, generation);
    Atomics.notify(cells, GO);
  } else {
    while (Atomics.load(cells, GO) !== generation) Atomics.wait(cells, GO, generation - 1);
  }
  const startedAt = clock();
  increments[kind](count);
  parentPort!.postMessage({ startedAt, endedAt: clock() });
});
