import type { ChildProcess } from 'node:child_process';
import dc from 'node:diagnostics_channel';
import type { Worker } from 'node:worker_threads';

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

function startLog(): SpawnLog {
  const log: SpawnLog = { workers: [], children: [], exitedWorkers: new Set() };
  dc.subscribe('worker_threads', (message) => {
    const worker = (message as { worker: Worker }).worker;
    log.workers.push(worker);
    worker.once('exit', () => log.exitedWorkers.add(worker));
  });
  dc.subscribe('child_process', (message) => {
    log.children.push((message as { process: ChildProcess }).process);
  });
  return log;
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
