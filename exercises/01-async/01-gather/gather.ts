/** A unit of asynchronous work, not yet started: calling it starts it. */
export type Task<T> = () => Promise<T>;

export type Outcome<T> = { status: 'fulfilled'; value: T } | { status: 'rejected'; reason: unknown };

/**
 * Starts every task at once and resolves with their results, in the order of `tasks`.
 * Rejects with the first failure, without waiting for the others.
 */
export async function gatherAll<T>(tasks: ReadonlyArray<Task<T>>): Promise<T[]> {
  // TODO: start all the tasks, then wait for all of them together.
  throw new Error('Not implemented yet: gatherAll() in exercises/01-async/01-gather/gather.ts (see README.md there)');
}

/** Starts every task at once; never rejects; reports each task's outcome in the order of `tasks`. */
export async function gatherSettled<T>(tasks: ReadonlyArray<Task<T>>): Promise<Array<Outcome<T>>> {
  // TODO: like gatherAll, but a failure becomes an outcome instead of a rejection.
  throw new Error('Not implemented yet: gatherSettled() in exercises/01-async/01-gather/gather.ts (see README.md there)');
}
