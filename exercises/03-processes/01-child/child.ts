import type { Serializable } from 'node:child_process';

/** How a child process failed: its exit code (or the signal that killed it) and what it wrote to stderr. */
export class ChildFailed extends Error {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;

  constructor(exitCode: number | null, signal: NodeJS.Signals | null, stderr: string) {
    const how = signal ? `was killed by ${signal}` : `exited with code ${exitCode}`;
    super(`The child process ${how}${stderr ? `. Its stderr:\n${stderr}` : ', and wrote nothing to stderr'}`);
    this.name = 'ChildFailed';
    this.exitCode = exitCode;
    this.signal = signal;
    this.stderr = stderr;
  }
}

export interface RunOptions {
  /** Aborting it kills the child, whatever it is doing, and rejects with an AbortError. */
  signal?: AbortSignal;
}

/**
 * Forks the TypeScript file `script` as a child process, sends it `input` over IPC, and resolves
 * with the first message it sends back, once the child has exited with code 0.
 * Rejects with a ChildFailed if it exits with another code or is killed by a signal, with an Error
 * if it exits with code 0 without replying, and with an AbortError when `signal` aborts.
 */
export function runChild<Reply>(script: URL, input: Serializable, options: RunOptions = {}): Promise<Reply> {
  // TODO: fork the script, send it the input, collect its reply and its stderr, and settle when it has exited.
  throw new Error('Not implemented yet: runChild() in exercises/03-processes/01-child/child.ts (see README.md there)');
}

/** Computes 1² + 2² + ... + n² in a child process (./sum-of-squares.child.ts) and resolves with the sum. */
export function sumOfSquaresInChild(n: number, options: RunOptions = {}): Promise<number> {
  // TODO: run ./sum-of-squares.child.ts with runChild.
  throw new Error('Not implemented yet: sumOfSquaresInChild() in exercises/03-processes/01-child/child.ts (see README.md there)');
}
