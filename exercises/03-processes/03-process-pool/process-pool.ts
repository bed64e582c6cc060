import type { Serializable } from 'node:child_process';

/** The child running a task exited (or was killed) before it replied. */
export class ChildCrashed extends Error {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly pid: number | undefined;

  constructor(pid: number | undefined, exitCode: number | null, signal: NodeJS.Signals | null) {
    super(`The child process ${pid} ${signal ? `was killed by ${signal}` : `exited with code ${exitCode}`} in the middle of the task`);
    this.name = 'ChildCrashed';
    this.pid = pid;
    this.exitCode = exitCode;
    this.signal = signal;
  }
}

/**
 * A fixed set of `size` child processes, each running the TypeScript file `script`, that take
 * tasks one at a time and answer each with exactly one message. Tasks wait in a queue until a
 * child is free. A child that dies is replaced.
 */
export class ProcessPool {
  constructor(script: URL, size: number) {
    // TODO: start the children (now, or as the first tasks arrive).
    throw new Error('Not implemented yet: new ProcessPool() in exercises/03-processes/03-process-pool/process-pool.ts (see README.md there)');
  }

  /**
   * Runs `task` in the first free child and resolves with its reply. Rejects with a ChildCrashed
   * if that child dies before it replies, and with an Error once the pool is closed.
   */
  run<Result>(task: Serializable): Promise<Result> {
    // TODO: queue the task; hand it to a child as soon as one is free.
    throw new Error('Not implemented yet: ProcessPool.run() in exercises/03-processes/03-process-pool/process-pool.ts (see README.md there)');
  }

  /** Refuses new tasks, lets the tasks already submitted finish, then ends every child; resolves once all have exited. */
  close(): Promise<void> {
    // TODO: stop taking tasks, wait for the queue to drain, end the children.
    throw new Error('Not implemented yet: ProcessPool.close() in exercises/03-processes/03-process-pool/process-pool.ts (see README.md there)');
  }
}
