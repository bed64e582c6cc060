import { type ChildProcess, fork, type Serializable } from 'node:child_process';

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

/** A task on its way through the pool, with the means to settle the caller's promise. */
interface Job {
  task: Serializable;
  resolve: (reply: unknown) => void;
  reject: (error: Error) => void;
}

/**
 * A fixed set of `size` child processes, each running the TypeScript file `script`, that take
 * tasks one at a time and answer each with exactly one message. Tasks wait in a queue until a
 * child is free. A child that dies is replaced.
 */
export class ProcessPool {
  readonly #script: URL;
  readonly #queue: Job[] = [];
  readonly #idle: ChildProcess[] = [];
  /** The job each busy child is running: its reply, or its death, belongs to that job alone. */
  readonly #running = new Map<ChildProcess, Job>();
  readonly #children = new Set<ChildProcess>();
  #closing = false;
  #ending = false;
  #closed: Promise<void> | undefined;
  #drained: (() => void) | undefined;

  constructor(script: URL, size: number) {
    this.#script = script;
    // The children start once, here, and then serve every task: start-up is paid `size` times.
    for (let i = 0; i < size; i += 1) this.#startChild();
  }

  /**
   * Runs `task` in the first free child and resolves with its reply. Rejects with a ChildCrashed
   * if that child dies before it replies, and with an Error once the pool is closed.
   */
  run<Result>(task: Serializable): Promise<Result> {
    if (this.#closing) return Promise.reject(new Error('This ProcessPool is closed: it takes no new tasks'));
    return new Promise<Result>((resolve, reject) => {
      this.#queue.push({ task, resolve: resolve as (reply: unknown) => void, reject });
      this.#dispatch();
    });
  }

  /** Refuses new tasks, lets the tasks already submitted finish, then ends every child; resolves once all have exited. */
  close(): Promise<void> {
    this.#closing = true;
    this.#closed ??= new Promise<void>((resolve) => (this.#drained = resolve)).then(() => this.#endChildren());
    this.#settleIfDrained();
    return this.#closed;
  }

  #startChild(): void {
    const child = fork(this.#script);
    this.#children.add(child);
    this.#idle.push(child);

    child.on('message', (reply) => {
      this.#running.get(child)?.resolve(reply);
      this.#running.delete(child);
      this.#idle.push(child);
      this.#dispatch();
      this.#settleIfDrained();
    });

    // A task sent to a child that has just died fails here; the 'exit' below settles that task.
    child.on('error', () => {});

    child.once('exit', (code, signal) => {
      this.#children.delete(child);
      const idleAt = this.#idle.indexOf(child);
      if (idleAt >= 0) this.#idle.splice(idleAt, 1);
      // Only the task this child was running fails; the others go on, with a fresh child.
      this.#running.get(child)?.reject(new ChildCrashed(child.pid, code, signal));
      this.#running.delete(child);
      if (!this.#ending) {
        this.#startChild();
        this.#dispatch();
      }
      this.#settleIfDrained();
    });
  }

  /** Hands queued tasks to idle children, one task per child at a time. */
  #dispatch(): void {
    while (this.#idle.length > 0 && this.#queue.length > 0) {
      const child = this.#idle.shift()!;
      const job = this.#queue.shift()!;
      this.#running.set(child, job);
      child.send(job.task);
    }
  }

  /** Once closing, and every submitted task has settled, lets close() go on to end the children. */
  #settleIfDrained(): void {
    if (this.#closing && this.#queue.length === 0 && this.#running.size === 0) this.#drained?.();
  }

  async #endChildren(): Promise<void> {
    this.#ending = true;
    await Promise.all(
      [...this.#children].map((child) => {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        // Idle children hold no work: SIGTERM, which a Node process obeys by default, ends them.
        child.kill();
        return exited;
      }),
    );
  }
}
