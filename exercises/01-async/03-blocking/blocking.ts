// The functions in original.ts give the right answers but block the event loop while they work.
// Write versions that give the same answers and keep the loop turning.

/** Same answer as countPrimesSync(below), without holding the event loop for more than a few ms at a time. */
export async function countPrimes(below: number): Promise<number> {
  // TODO: do the work of countPrimesSync, but let the event loop take turns while it runs.
  throw new Error('Not implemented yet: countPrimes() in exercises/01-async/03-blocking/blocking.ts (see README.md there)');
}

/** Same key as deriveKeySync(password, salt), without blocking the event loop. */
export async function deriveKey(password: string, salt: string): Promise<Buffer> {
  // TODO: derive the key of deriveKeySync off the event loop.
  throw new Error('Not implemented yet: deriveKey() in exercises/01-async/03-blocking/blocking.ts (see README.md there)');
}

/** Same count as countMatchingLinesSync(path, word), without blocking the event loop. */
export async function countMatchingLines(path: string, word: string): Promise<number> {
  // TODO: count the lines containing `word` without reading and scanning the whole file in one go.
  throw new Error('Not implemented yet: countMatchingLines() in exercises/01-async/03-blocking/blocking.ts (see README.md there)');
}
