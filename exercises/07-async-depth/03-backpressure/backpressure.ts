import type { Writable } from 'node:stream';

/**
 * Passes every item of `source` through `transform` and writes the results to `destination`,
 * in order, taking items from `source` only as fast as `destination` takes them. Resolves once
 * `destination` has finished; on the first error anywhere, closes every stage and rejects with it.
 */
export function transformAll<T, U>(source: AsyncIterable<T>, transform: (item: T) => U | Promise<U>, destination: Writable): Promise<void> {
  // TODO: connect the source, a stage that transforms each item, and the destination, with
  // backpressure and error handling (pipeline from node:stream/promises does both).
  throw new Error('Not implemented yet: transformAll() in exercises/07-async-depth/03-backpressure/backpressure.ts (see README.md there)');
}
