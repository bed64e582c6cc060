/**
 * The task side of a task probe (see kata/testing/task-probe.ts): a task that was handed a `Cue`
 * reports to the test's loopback server when it starts and ends and where it runs, and waits where
 * the cue says. Loaded by Node itself inside worker threads and child processes, so it keeps to
 * plain `node:` modules and erasable TypeScript.
 */
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { threadId } from 'node:worker_threads';

/** What the test asks of one task. Plain data, so it crosses thread and process boundaries. */
export interface Cue {
  /** The probe's loopback address, http://127.0.0.1:<port>. */
  url: string;
  /** The task's name in the timeline. */
  label: string;
  /** Wait, before the work, until the test opens the gate of this name. */
  hold?: string;
  /** Wait, before the work, until this many tasks are waiting together (a barrier). */
  meet?: number;
  /** Stay busy this long after the work, without using the CPU. */
  napMs?: number;
}

/** Runs `work` under `cue`: check in, hold, meet, work, nap, check out. Without a cue, just `work`. */
export async function probed<T>(cue: Cue | undefined, work: () => T | Promise<T>): Promise<T> {
  if (cue === undefined) return work();
  await call(cue, 'begin', { threadId, pid: process.pid });
  if (cue.hold !== undefined) await call(cue, 'hold', { gate: cue.hold });
  if (cue.meet !== undefined) await call(cue, 'meet', { parties: cue.meet });
  const result = await work();
  if (cue.napMs !== undefined) await sleep(cue.napMs);
  await call(cue, 'end', {});
  return result;
}

function call(cue: Cue, verb: string, body: object): Promise<void> {
  return new Promise((resolve, reject) => {
    // One connection per call, closed after it: no keep-alive socket holds a worker or child open.
    const req = request(`${cue.url}/${verb}`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 204 ? resolve() : reject(new Error(`task probe: ${verb} answered ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ label: cue.label, ...body }));
  });
}
