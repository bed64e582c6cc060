import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface ProgramRun {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Still running at its deadline, so it was killed (SIGKILL). */
  timedOut: boolean;
  /** ms from start until stdout first matched `settleAfter.output` (undefined: it never did). */
  answeredAfterMs?: number;
  /** The most threads the process was seen running at once (Linux only, else undefined). */
  peakThreads?: number;
  /** Killed because it ran more than `maxThreads` threads at once. */
  threadCapHit: boolean;
}

export interface ProgramOptions {
  /** Node's own options, before the file (e.g. `--import`, a preload). */
  nodeArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /** Kill the program if it has not exited after this long. */
  deadlineMs: number;
  /** Once stdout matches `output`, the program has `thenMs` more to exit before it is killed. */
  settleAfter?: { output: RegExp; thenMs: number };
  /** Kill the program at once if it runs more threads than this (Linux: read from /proc). */
  maxThreads?: number;
  /** Called once the program has started, with its pid. */
  onStart?: (pid: number) => void;
  /** Called with each whole line the program writes, as it writes it (for live timelines). */
  onLine?: (line: string, stream: 'stdout' | 'stderr', pid: number) => void;
}

/** Threads of a process right now, from /proc (Linux); undefined where /proc is not there. */
function threadCount(pid: number): number | undefined {
  try {
    return Number(/^Threads:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  } catch {
    return undefined;
  }
}

/**
 * Runs `node [nodeArgs] file [args]` in a child process and reports how it ended. It never
 * outlives its deadline: a program that hangs, or that starts threads without end, is killed
 * with SIGKILL (which nothing can ignore) and reported as such. Never rejects for the program's
 * own failures: the test decides what they mean.
 */
export function runProgram(file: string | URL, args: string[], options: ProgramOptions): Promise<ProgramRun> {
  const started = performance.now();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), typeof file === 'string' ? file : fileURLToPath(file), ...args], {
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: ProgramRun = {
    pid: child.pid ?? -1,
    code: null,
    signal: null,
    stdout: '',
    stderr: '',
    timedOut: false,
    threadCapHit: false,
  };
  options.onStart?.(run.pid);
  const kill = () => child.kill('SIGKILL');
  let deadline = setTimeout(() => ((run.timedOut = true), kill()), options.deadlineMs);

  const partial = { stdout: '', stderr: '' };
  const lines = (stream: 'stdout' | 'stderr', text: string) => {
    const parts = (partial[stream] + text).split('\n');
    partial[stream] = parts.pop()!;
    for (const line of parts) options.onLine?.(line, stream, run.pid);
  };

  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    run.stdout += text;
    lines('stdout', text);
    const settle = options.settleAfter;
    if (settle && run.answeredAfterMs === undefined && settle.output.test(run.stdout)) {
      run.answeredAfterMs = performance.now() - started;
      clearTimeout(deadline);
      deadline = setTimeout(() => ((run.timedOut = true), kill()), settle.thenMs);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    run.stderr += text;
    lines('stderr', text);
  });

  // A runaway that starts threads without end is stopped long before it can hurt the machine.
  const watchdog =
    options.maxThreads === undefined
      ? undefined
      : setInterval(() => {
          const threads = threadCount(run.pid);
          if (threads === undefined || Number.isNaN(threads)) return;
          run.peakThreads = Math.max(run.peakThreads ?? 0, threads);
          if (threads > options.maxThreads!) {
            run.threadCapHit = true;
            kill();
          }
        }, 5);

  return new Promise((resolve) => {
    child.on('error', (error) => {
      run.stderr += `\n${error.message}`;
    });
    child.on('close', (code, signal) => {
      clearTimeout(deadline);
      clearInterval(watchdog);
      Object.assign(run, { code, signal });
      resolve(run);
    });
  });
}
