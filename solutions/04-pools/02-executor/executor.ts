import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Reply } from './task-runner.ts';
import type { TaskCall, TaskName, tasks } from './tasks.ts';

export type { TaskName } from './tasks.ts';
/** The arguments task `N` takes, and the value it resolves with. */
export type ArgsOf<N extends TaskName> = Parameters<(typeof tasks)[N]>;
export type ResultOf<N extends TaskName> = Awaited<ReturnType<(typeof tasks)[N]>>;

/** Python's concurrent.futures.Executor: one interface, a thread pool and a process pool behind it. */
export interface Executor {
  /** Runs `task(...args)` on one of the pool's workers; resolves with its value or rejects with its error. */
  submit<N extends TaskName>(task: N, ...args: ArgsOf<N>): Promise<ResultOf<N>>;
  /** Runs `task(item)` for every item, on all the workers at once; resolves with the results in the order of `items`. */
  map<N extends TaskName>(task: N, items: Iterable<ArgsOf<N>[0]>): Promise<Array<ResultOf<N>>>;
  /** Refuses new tasks from now on, lets every task already submitted finish, then stops every worker. */
  shutdown(): Promise<void>;
}

export interface ExecutorOptions {
  /** The most workers (threads or processes) the pool starts. Default: the number of CPU cores. */
  maxWorkers?: number;
}

/** The file every worker runs, thread or process. */
const runner = new URL('./task-runner.ts', import.meta.url);

/** One worker, thread or process. The pool gives it one task call at a time. */
interface PoolWorker {
  send(call: TaskCall): void;
  /** Stops the (idle) worker; resolves once it has exited. */
  stop(): Promise<void>;
}

/** What a worker tells the pool: a reply to the call it was given, or that the worker is gone. */
interface PoolWorkerEvents {
  reply(reply: Reply): void;
  exit(reason: string): void;
}

interface Job {
  call: TaskCall;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/**
 * Everything the two pools share: the queue, handing tasks to idle workers, starting workers up
 * to maxWorkers, shutdown. The subclasses only say how a worker is started and talked to, which
 * is why switching between them is a matter of the class name.
 */
abstract class PoolExecutor implements Executor {
  readonly #maxWorkers: number;
  readonly #workers = new Set<PoolWorker>();
  readonly #idle: PoolWorker[] = [];
  readonly #busy = new Map<PoolWorker, Job>();
  readonly #queue: Job[] = [];
  /** Tasks submitted and not yet settled: what shutdown() waits for. */
  readonly #unsettled = new Set<Promise<unknown>>();
  #shutdown: Promise<void> | undefined;

  constructor({ maxWorkers = availableParallelism() }: ExecutorOptions = {}) {
    if (!Number.isInteger(maxWorkers) || maxWorkers < 1) throw new RangeError(`maxWorkers must be a whole number >= 1, not ${maxWorkers}`);
    this.#maxWorkers = maxWorkers;
  }

  /** Starts one worker running task-runner.ts, reporting its replies and its exit to `events`. */
  protected abstract startWorker(events: PoolWorkerEvents): PoolWorker;

  submit<N extends TaskName>(task: N, ...args: ArgsOf<N>): Promise<ResultOf<N>> {
    if (this.#shutdown !== undefined) {
      return Promise.reject(new Error(`${this.constructor.name} has been shut down: it accepts no new tasks (refused "${task}")`));
    }
    const result = new Promise<ResultOf<N>>((resolve, reject) => {
      this.#queue.push({ call: { task, args }, resolve: resolve as (value: unknown) => void, reject });
    });
    this.#unsettled.add(result);
    const forget = () => this.#unsettled.delete(result);
    result.then(forget, forget);
    this.#dispatch();
    return result;
  }

  map<N extends TaskName>(task: N, items: Iterable<ArgsOf<N>[0]>): Promise<Array<ResultOf<N>>> {
    // Submit every item before waiting for any: they all queue up and the workers take them as
    // they come free. Promise.all then keeps the results in the order of the items, whatever
    // order the tasks finish in.
    return Promise.all(Array.from(items, (item) => this.submit(task, ...([item] as ArgsOf<N>))));
  }

  shutdown(): Promise<void> {
    // Called twice, it returns the same promise. Setting it is what makes submit() refuse.
    this.#shutdown ??= (async () => {
      await Promise.allSettled(this.#unsettled);
      await Promise.all(Array.from(this.#workers, (worker) => worker.stop()));
    })();
    return this.#shutdown;
  }

  /** Hands queued tasks to idle workers, starting new workers while there are fewer than maxWorkers. */
  #dispatch(): void {
    while (this.#queue.length > 0) {
      const worker = this.#idle.pop() ?? (this.#workers.size < this.#maxWorkers ? this.#startWorker() : undefined);
      if (worker === undefined) return; // every worker is busy: the rest wait in the queue
      const job = this.#queue.shift()!;
      this.#busy.set(worker, job);
      worker.send(job.call);
    }
  }

  #startWorker(): PoolWorker {
    const worker = this.startWorker({
      reply: (reply) => {
        const job = this.#busy.get(worker)!;
        this.#busy.delete(worker);
        this.#idle.push(worker);
        if (reply.ok) job.resolve(reply.value);
        else job.reject(rebuild(reply.error));
        this.#dispatch();
      },
      exit: (reason) => {
        // Stopped by shutdown(), or died (a crash, process.exit() in a task): a task it was
        // running fails instead of waiting forever, and a new worker may take its place.
        this.#workers.delete(worker);
        const idleAt = this.#idle.indexOf(worker);
        if (idleAt >= 0) this.#idle.splice(idleAt, 1);
        const job = this.#busy.get(worker);
        this.#busy.delete(worker);
        job?.reject(new Error(`The ${reason} while running task "${job.call.task}"`));
        this.#dispatch();
      },
    });
    this.#workers.add(worker);
    return worker;
  }
}

/** An Error again, from the parts task-runner.ts sent; its stack is the one from where the task threw. */
function rebuild({ name, message, stack }: { name: string; message: string; stack?: string }): Error {
  const error = new Error(message);
  error.name = name;
  if (stack !== undefined) error.stack = stack;
  return error;
}

/** Runs tasks on worker threads: one process, one event loop per thread, no start-up of a whole Node. */
export class ThreadPoolExecutor extends PoolExecutor {
  protected startWorker(events: PoolWorkerEvents): PoolWorker {
    const worker = new Worker(runner);
    let failure = '';
    worker.on('message', events.reply);
    // An error nothing in the thread caught: 'exit' follows, and says what happened.
    worker.on('error', (error) => (failure = ` (${error.message})`));
    worker.on('exit', (code) => events.exit(`worker thread exited with code ${code}${failure}`));
    return {
      send: (call) => worker.postMessage(call),
      // terminate() resolves once the thread has exited (with exit code 1: stopped, not ended by itself).
      stop: async () => {
        await worker.terminate();
      },
    };
  }
}

/** Runs tasks in child processes: separate memory, a crash stays in its process, but each start costs a whole Node. */
export class ProcessPoolExecutor extends PoolExecutor {
  protected startWorker(events: PoolWorkerEvents): PoolWorker {
    // 'advanced' serialization is the structured clone that postMessage uses, so both pools
    // carry the same values (undefined, Infinity, Map, Date...), not just JSON.
    const child = fork(runner, { serialization: 'advanced' });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let failure = '';
    child.on('message', (reply) => events.reply(reply as Reply));
    child.on('error', (error) => (failure = ` (${error.message})`));
    child.on('exit', (code, signal) => events.exit(`child process exited with ${signal ?? `code ${code}`}${failure}`));
    return {
      send: (call) => child.send(call),
      // With its IPC channel closed, the idle child has nothing left to wait for and exits by itself.
      stop: async () => {
        if (child.connected) child.disconnect();
        await exited;
      },
    };
  }
}
