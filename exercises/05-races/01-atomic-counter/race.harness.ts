// The tests' worker: one of several threads that increment one shared counter, all released at
// the same moment by a start barrier, so that their increments really collide.
import { parentPort, workerData } from 'node:worker_threads';
import { arriveAndWait } from '#kata/inside/start-barrier.ts';
import { targetUrl } from '#kata/inside/target.ts';

interface RaceData {
  counter: Int32Array;
  times: number;
  /** `learner`: the increment() under test; `plain`: counter[0]++, to show what it loses. */
  increment: 'learner' | 'plain';
  gate: Int32Array;
  parties: number;
}
type Increment = (counter: Int32Array, index: number, times: number) => void;

const { counter, times, increment: which, gate, parties } = workerData as RaceData;

function plainIncrement(counter: Int32Array, index: number, times: number): void {
  for (let done = 0; done < times; done += 1) counter[index]!++;
}

const increment: Increment =
  which === 'plain' ? plainIncrement : ((await import(targetUrl(import.meta.url, './counter.ts').href)) as { increment: Increment }).increment;

arriveAndWait(gate, parties);
parentPort!.postMessage({ type: 'started' });
increment(counter, 0, times);
parentPort!.postMessage({ type: 'done' });
