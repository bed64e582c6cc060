// Given: the tasks an executor can run. You may add your own; you need not change the others.
//
// A function cannot be sent to another thread or process (it cannot be cloned), but its name
// can: the executor sends a task's name and arguments, and the other side, which imports this
// same module, looks the name up here. Python's ProcessPoolExecutor does the same by pickling a
// function as "module.name".
import { threadId } from 'node:worker_threads';
import { type Cue, probed } from '#kata/inside/task-probe-client.ts';

/** Where a task ran. */
export interface Whereabouts {
  threadId: number;
  pid: number;
}

export const tasks = {
  /** The article's example task (without its one-second sleep). */
  square: (n: number): number => n * n,
  /** 1 / n, or an error for 0: something for errors to cross the boundary with. */
  inverse(n: number): number {
    if (n === 0) throw new RangeError('cannot invert 0');
    return 1 / n;
  },
  whereAmI: (): Whereabouts => ({ threadId, pid: process.pid }),
  /** A task the tests direct: `cue` says when it reports in, what it waits for and how long it naps. */
  probe: (cue: Cue): Promise<Whereabouts & { label: string }> => probed(cue, () => ({ label: cue.label, threadId, pid: process.pid })),
};

export type TaskName = keyof typeof tasks;

/** A task, by name, with its arguments: plain data that crosses to a thread or a process. */
export interface TaskCall {
  task: TaskName;
  args: unknown[];
}

/** Runs a task by name. (A default export taking one value is also what a piscina worker file needs.) */
export default function runTask({ task, args }: TaskCall): unknown {
  const run = tasks[task] as ((...args: unknown[]) => unknown) | undefined;
  if (typeof run !== 'function') throw new TypeError(`There is no task named "${String(task)}" in tasks.ts`);
  return run(...args);
}
