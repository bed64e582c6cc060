import { type ChildProcess, spawn } from 'node:child_process';
import dc from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { afterAll, beforeAll } from 'vitest';

/**
 * Every worker thread and child process started in this test file, seen through Node's own
 * diagnostics channels (no wrapping, no mocks). Tests ask it what ran and what is still alive;
 * the setup file uses it to make sure nothing outlives a test file.
 */
export interface SpawnLog {
  workers: Worker[];
  children: ChildProcess[];
  exitedWorkers: Set<Worker>;
}

const key = Symbol.for('concurrency-kata.spawned');
const global = globalThis as { [key]?: SpawnLog };

/** Where each worker and child was started: the first line of the stack outside Node and the kata. */
const origins = new WeakMap<Worker | ChildProcess, string>();

function startLog(): SpawnLog {
  const log: SpawnLog = { workers: [], children: [], exitedWorkers: new Set() };
  dc.subscribe('worker_threads', (message) => {
    const worker = (message as { worker: Worker }).worker;
    origins.set(worker, callerOutsideKata());
    log.workers.push(worker);
    worker.once('exit', () => log.exitedWorkers.add(worker));
  });
  dc.subscribe('child_process', (message) => {
    const child = (message as { process: ChildProcess }).process;
    if (startingReaper) return;
    origins.set(child, callerOutsideKata());
    log.children.push(child);
    // The channel speaks as the child is created, before it has a pid.
    process.nextTick(() => child.pid !== undefined && tellReaper(child.pid));
  });
  return log;
}

let reaper: ChildProcess | undefined;
let startingReaper = false;

/** Whether the child the channel speaks of right now is the kata's own reaper (no test counts it). */
export function isReaperStarting(): boolean {
  return startingReaper;
}

/** Hands `pid` to the reaper (kata/inside/reaper.ts), started on the first child. */
function tellReaper(pid: number): void {
  if (reaper === undefined) {
    startingReaper = true;
    try {
      reaper = spawn(process.execPath, [fileURLToPath(new URL('../inside/reaper.ts', import.meta.url))], {
        detached: true,
        stdio: ['pipe', 'ignore', 'ignore'],
      });
    } finally {
      startingReaper = false;
    }
    // Neither the reaper nor its pipe may keep the test process alive.
    reaper.unref();
    (reaper.stdin as Socket).unref();
    reaper.stdin!.on('error', () => {});
  }
  reaper.stdin!.write(`${pid}\n`);
}

/** `runWorker (exercises/02-threads/01-worker/worker.ts:14:18)`, or '' when no such line is on the stack. */
function callerOutsideKata(): string {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 40;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  const frames = stack
    .split('\n')
    .slice(1)
    .map((line) => line.trim().replace(/^at /, ''));
  const frame = frames.find((line) => !/node:|node_modules|[\\/]kata[\\/](?:testing|inside|vitest)[\\/]/.test(line));
  return frame?.replace(/file:\/\/|\S*?[\\/](?=(?:exercises|solutions|\.kata)[\\/])/g, '') ?? '';
}

/** Where `spawned` was started (see callerOutsideKata). */
export function originOf(spawned: Worker | ChildProcess): string {
  return origins.get(spawned) ?? '';
}

export function spawnLog(): SpawnLog {
  return (global[key] ??= startLog());
}

/** Leaves out a worker of the kata's own (the watchdog's), should the log have started before it. */
export function forgetWorker(worker: Worker): void {
  const workers = global[key]?.workers ?? [];
  if (workers.includes(worker)) workers.splice(workers.indexOf(worker), 1);
}

export function isChildAlive(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

export function liveWorkers(): Worker[] {
  const log = spawnLog();
  return log.workers.filter((worker) => !log.exitedWorkers.has(worker));
}

export function liveChildren(): ChildProcess[] {
  return spawnLog().children.filter(isChildAlive);
}

/** Counts so a test can look at what one call started: `const before = spawnCounts(); ...` */
export function spawnCounts(): { workers: number; children: number } {
  const log = spawnLog();
  return { workers: log.workers.length, children: log.children.length };
}

let outliveReason: string | undefined;

/**
 * For tests whose README lets a worker or child live from one call to the next (a warm pool, a
 * reused worker): the setup file then stops it when the test file ends, instead of failing the
 * test that started it. Call it in the describe block (or at the top of the file) it applies to,
 * with the README's reason.
 */
export function letSpawnedOutliveTests(reason: string): void {
  if (reason.trim() === '') throw new Error('letSpawnedOutliveTests needs the reason the README gives');
  beforeAll(() => {
    outliveReason = reason;
  });
  afterAll(() => {
    outliveReason = undefined;
  });
}

export function mayOutliveTests(): boolean {
  return outliveReason !== undefined;
}

/**
 * Terminates `workers`, waiting at most `ms` for them: terminate() can fail to resolve (a thread
 * stopped while it was still starting up, under load, was seen to hang a test process for
 * minutes). Resolves with the workers that had not exited by then.
 */
export async function stopWorkers(workers: readonly Worker[], ms: number): Promise<Worker[]> {
  const stopped = new Set<Worker>();
  const all = Promise.all(
    workers.map((worker) =>
      worker.terminate().then(
        () => stopped.add(worker),
        () => stopped.add(worker),
      ),
    ),
  );
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([all, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
  return workers.filter((worker) => !stopped.has(worker));
}
