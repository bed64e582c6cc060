import type { TaskName, tasks } from './tasks.ts';

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

/** Runs tasks on at most `maxWorkers` worker threads, each running task-runner.ts. */
export class ThreadPoolExecutor implements Executor {
  constructor(options: ExecutorOptions = {}) {
    // TODO: keep a queue of tasks and up to maxWorkers worker threads (new Worker(url of task-runner.ts)).
    throw new Error('Not implemented yet: new ThreadPoolExecutor() in exercises/04-pools/02-executor/executor.ts (see README.md there)');
  }

  submit<N extends TaskName>(task: N, ...args: ArgsOf<N>): Promise<ResultOf<N>> {
    // TODO: queue the call; an idle worker (or a new one, below maxWorkers) runs it.
    throw new Error('Not implemented yet: ThreadPoolExecutor.submit() in exercises/04-pools/02-executor/executor.ts (see README.md there)');
  }

  map<N extends TaskName>(task: N, items: Iterable<ArgsOf<N>[0]>): Promise<Array<ResultOf<N>>> {
    // TODO: one task per item, all submitted at once; results in the order of the items.
    throw new Error('Not implemented yet: ThreadPoolExecutor.map() in exercises/04-pools/02-executor/executor.ts (see README.md there)');
  }

  shutdown(): Promise<void> {
    // TODO: refuse new tasks, wait for the submitted ones, then stop the workers.
    throw new Error('Not implemented yet: ThreadPoolExecutor.shutdown() in exercises/04-pools/02-executor/executor.ts (see README.md there)');
  }
}

/** Runs tasks in at most `maxWorkers` child processes, each forked from task-runner.ts. */
export class ProcessPoolExecutor implements Executor {
  constructor(options: ExecutorOptions = {}) {
    // TODO: the same as ThreadPoolExecutor, with child processes (fork(url of task-runner.ts)).
    // Everything but starting a worker and talking to it can be shared between the two classes.
    throw new Error('Not implemented yet: new ProcessPoolExecutor() in exercises/04-pools/02-executor/executor.ts (see README.md there)');
  }

  submit<N extends TaskName>(task: N, ...args: ArgsOf<N>): Promise<ResultOf<N>> {
    throw new Error('Not implemented yet: ProcessPoolExecutor.submit() in exercises/04-pools/02-executor/executor.ts (see README.md there)');
  }

  map<N extends TaskName>(task: N, items: Iterable<ArgsOf<N>[0]>): Promise<Array<ResultOf<N>>> {
    throw new Error('Not implemented yet: ProcessPoolExecutor.map() in exercises/04-pools/02-executor/executor.ts (see README.md there)');
  }

  shutdown(): Promise<void> {
    throw new Error('Not implemented yet: ProcessPoolExecutor.shutdown() in exercises/04-pools/02-executor/executor.ts (see README.md there)');
  }
}
