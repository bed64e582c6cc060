/**
 * Outlives the test process to stop what it started, should it be killed itself.
 *
 * A test process (a Vitest fork) starts this once, detached, on its first child process, and
 * writes each child's pid to its stdin. When the test process ends, however it ends (SIGKILL
 * included, when no exit handler runs), the pipe closes and this kills every child still alive
 * and the processes they started: a learner's spinning child never keeps running under init.
 * It runs with the machine's own kill(), no prctl, so it works on Linux and macOS alike.
 * A child process of its own (started by kata/testing/spawned.ts): `node:` imports only.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** pid -> its start time (so a pid reused by another program after ours ended is left alone). */
const children = new Map<number, string>();
let buffered = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  buffered += chunk;
  const lines = buffered.split('\n');
  buffered = lines.pop()!;
  for (const line of lines) {
    const pid = Number(line);
    if (Number.isInteger(pid) && pid > 0) children.set(pid, startTime(pid));
  }
});
process.stdin.on('end', () => {
  const alive = [...children].filter(([pid, started]) => started !== '' && startTime(pid) === started).map(([pid]) => pid);
  // Descendants first, so none of them is reparented (and lost) while we work.
  const doomed = [...descendants(alive), ...alive];
  for (const pid of doomed) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  process.exit(0);
});

/** When `pid` started, from /proc (Linux) or ps (macOS); '' when it is not running. */
function startTime(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]!;
  } catch {
    try {
      return execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  }
}

/** Every process below `roots`, deepest last. */
function descendants(roots: number[]): number[] {
  const parentOf = new Map<number, number>();
  try {
    for (const name of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
      try {
        parentOf.set(Number(name), Number(readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]));
      } catch {
        // Ended while we looked.
      }
    }
  } catch {
    for (const line of execFileSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' }).trim().split('\n')) {
      const [pid, ppid] = line.trim().split(/\s+/).map(Number);
      parentOf.set(pid!, ppid!);
    }
  }
  const found: number[] = [];
  let frontier = roots;
  while (frontier.length > 0) {
    frontier = [...parentOf].filter(([, parent]) => frontier.includes(parent)).map(([pid]) => pid);
    found.push(...frontier);
  }
  return found;
}
