// Given: the task the pool runs. You do not need to change this file.
// Piscina loads it in each pool thread and calls its default export once per task.
import { threadId } from 'node:worker_threads';
import { type Cue, probed } from '#kata/inside/task-probe-client.ts';

/** One task's input. `cue` comes from the tests: it lets them see when and where the task ran. */
export interface Job {
  n: number;
  cue?: Cue;
}

/** One task's output, and the thread that produced it. */
export interface Report {
  sum: number;
  threadId: number;
}

/** A fixed amount of CPU work: 0² + 1² + ... + (n-1)². About 70 ms per 1e8 on a laptop core. */
export function sumOfSquares(n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += i * i;
  return sum;
}

export default function runJob({ n, cue }: Job): Promise<Report> {
  return probed(cue, () => ({ sum: sumOfSquares(n), threadId }));
}
