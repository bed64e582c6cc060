import { monitorEventLoopDelay } from 'node:perf_hooks';
import { sleep } from './deadline.ts';

export interface LoopWatch<T> {
  result: T;
  /** The longest the event loop was stuck while `work` ran, in ms. */
  maxDelayMs: number;
  /** How many times a 10 ms interval fired while `work` ran: 0 means the loop never got a turn. */
  ticks: number;
  elapsedMs: number;
}

/**
 * Runs `work` while watching the event loop. A blocked loop shows as a long max delay and few
 * interval ticks; a loop that keeps turning shows delays of a few ms and a tick every ~10 ms.
 */
export async function watchEventLoop<T>(work: () => Promise<T> | T): Promise<LoopWatch<T>> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  // The histogram records nothing before its second tick: a block that came first would read 0.
  // (reset() starts that over, so the quiet 25 ms stay in: they add delays of about 1 ms.)
  await sleep(25);
  let ticks = 0;
  const interval = setInterval(() => (ticks += 1), 10);
  const started = performance.now();
  try {
    const result = await work();
    const elapsedMs = performance.now() - started;
    const counted = ticks;
    // Let the histogram sample the last stretch of the work before reading it.
    await sleep(30);
    return { result, maxDelayMs: histogram.max / 1e6, ticks: counted, elapsedMs };
  } finally {
    clearInterval(interval);
    histogram.disable();
  }
}
