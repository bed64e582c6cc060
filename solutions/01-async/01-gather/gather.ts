/** A unit of asynchronous work, not yet started: calling it starts it. */
export type Task<T> = () => Promise<T>;

export type Outcome<T> = { status: 'fulfilled'; value: T } | { status: 'rejected'; reason: unknown };

/**
 * Starts every task at once and resolves with their results, in the order of `tasks`.
 * Rejects with the first failure, without waiting for the others.
 */
export async function gatherAll<T>(tasks: ReadonlyArray<Task<T>>): Promise<T[]> {
  // `map` calls every task before anything is awaited, so all of them are in flight together.
  // Promise.all keeps the results in input order and rejects as soon as one promise rejects.
  return Promise.all(tasks.map((task) => task()));
}

/** Starts every task at once; never rejects; reports each task's outcome in the order of `tasks`. */
export async function gatherSettled<T>(tasks: ReadonlyArray<Task<T>>): Promise<Array<Outcome<T>>> {
  // allSettled waits for every task, success or failure, and never rejects.
  return Promise.allSettled(tasks.map((task) => task()));
}
