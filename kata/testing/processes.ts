import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { sleep } from './deadline.ts';
import { liveChildren } from './spawned.ts';
import type { Span, Timeline } from './timeline.ts';

/**
 * True once no process with this pid exists. `process.kill(pid, 0)` sends no signal, it only
 * asks: ESRCH means "no such process" (EPERM would mean it exists but belongs to someone else).
 */
export function isPidGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Waits up to `ms` for every pid to be gone and returns those still alive then (empty: all gone). */
export async function pidsStillAlive(pids: readonly number[], ms: number): Promise<number[]> {
  const deadline = performance.now() + ms;
  // Polling keeps the event loop turning, so Node can reap the children that have died.
  while (pids.some((pid) => !isPidGone(pid)) && performance.now() < deadline) await sleep(10);
  return pids.filter((pid) => !isPidGone(pid));
}

/**
 * Waits up to `ms` for every child process this test file started to have exited. Any child
 * still running then is killed (so one test's leak does not spill into the next) and returned,
 * for the test to report.
 */
export async function reapChildren(ms: number): Promise<ChildProcess[]> {
  const deadline = performance.now() + ms;
  while (liveChildren().length > 0 && performance.now() < deadline) await sleep(10);
  const left = liveChildren();
  for (const child of left) child.kill('SIGKILL');
  return left;
}

/** Waits up to `ms` for `file` to exist: a child's way of saying "I got this far". */
export async function fileAppears(file: string, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!existsSync(file) && performance.now() < deadline) await sleep(10);
  return existsSync(file);
}

/**
 * Where and when a task ran in another process, as that process reported it: wall-clock ms from
 * `performance.timeOrigin + performance.now()`, which processes on one machine share.
 */
export interface RemoteRun {
  pid: number;
  threadId?: number;
  startedAt: number;
  endedAt: number;
}

/**
 * Records in `timeline` a task that ran in another process, at the times that process measured
 * (not when its reply happened to arrive here), so a timeline picture shows what each process did.
 * Such spans are recorded after the fact: `timeline.maxInFlight` does not count them.
 */
export function recordRemoteRun(timeline: Timeline, label: string, run: RemoteRun): Span {
  const span = timeline.begin(label, { pid: run.pid, threadId: run.threadId ?? 0 })();
  const origin = performance.timeOrigin + timeline.origin;
  span.start = run.startedAt - origin;
  span.end = run.endedAt - origin;
  return span;
}

/** The most spans that overlap at one moment (recorded ones included, unlike `timeline.maxInFlight`). */
export function maxOverlap(spans: readonly Span[]): number {
  const edges = spans.flatMap((s) => [
    [s.start, 1],
    [s.end ?? Infinity, -1],
  ]);
  // At equal times, ends come before starts: back-to-back tasks do not overlap.
  edges.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  let running = 0;
  let most = 0;
  for (const [, delta] of edges) most = Math.max(most, (running += delta!));
  return most;
}
