import { pbkdf2 } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { setImmediate as nextTurnOfTheLoop } from 'node:timers/promises';
import { isPrime, KEY_DIGEST, KEY_ITERATIONS, KEY_LENGTH, mentions } from './original.ts';

// Small enough that one slice takes a few ms, large enough that the pauses cost little.
const NUMBERS_PER_SLICE = 20_000;

/** Same answer as countPrimesSync, computed in short slices with a turn of the event loop between them. */
export async function countPrimes(below: number): Promise<number> {
  let count = 0;
  for (let start = 2; start < below; start += NUMBERS_PER_SLICE) {
    const end = Math.min(below, start + NUMBERS_PER_SLICE);
    for (let n = start; n < end; n++) if (isPrime(n)) count++;
    // setImmediate resolves after the loop has run its timers and I/O: everything that waited
    // during this slice gets its turn before the next slice starts. (An `await` of an already
    // resolved promise would resume at once, before the loop could move.)
    await nextTurnOfTheLoop();
  }
  return count;
}

/** Same key as deriveKeySync; the hashing runs on libuv's thread pool, not on the event loop. */
export function deriveKey(password: string, salt: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // The callback form hands the work to a pool thread and calls back with the result.
    pbkdf2(password, salt, KEY_ITERATIONS, KEY_LENGTH, KEY_DIGEST, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** Same count as countMatchingLinesSync, reading the file as a stream of small chunks. */
export async function countMatchingLines(path: string, word: string): Promise<number> {
  let count = 0;
  // The end of a chunk is usually the middle of a line: keep it and finish it with the next chunk.
  let unfinished = '';
  // The reads happen on the thread pool; each 64 KiB chunk is a short job for the event loop.
  // With `encoding`, a character cut in two at a chunk's edge is put back together too.
  // for await rejects if the stream fails (a missing file, say), so the error reaches the caller.
  for await (const chunk of createReadStream(path, { encoding: 'utf8' })) {
    const lines = (unfinished + chunk).split('\n');
    unfinished = lines.pop()!;
    for (const line of lines) if (mentions(line, word)) count++;
  }
  // The last line, with or without a newline after it.
  if (mentions(unfinished, word)) count++;
  return count;
}
