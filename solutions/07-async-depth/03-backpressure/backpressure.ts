import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Passes every item of `source` through `transform` and writes the results to `destination`,
 * in order, taking items from `source` only as fast as `destination` takes them. Resolves once
 * `destination` has finished; on the first error anywhere, closes every stage and rejects with it.
 */
export async function transformAll<T, U>(source: AsyncIterable<T>, transform: (item: T) => U | Promise<U>, destination: Writable): Promise<void> {
  // pipeline pulls from each stage only when the next has room (the writable's write() returning
  // false holds everything before it back), resolves once the destination has emitted 'finish',
  // and on the first error destroys every stage (closing the source's iterator) and rejects.
  await pipeline(
    source,
    // One item at a time: the generator asks for the next only once its result has been taken.
    async function* (items: AsyncIterable<T>) {
      for await (const item of items) yield await transform(item);
    },
    destination,
  );
}
