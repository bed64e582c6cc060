import { pbkdf2Sync } from 'node:crypto';
import { readFileSync } from 'node:fs';

// The code as it was found. Every function gives the right answer, and every one of them holds
// the event loop until it is done: while it runs, no timer fires, no request is answered, no
// other callback runs. Leave this file as it is; write the versions that keep the loop turning
// in blocking.ts.

export function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let divisor = 2; divisor * divisor <= n; divisor++) {
    if (n % divisor === 0) return false;
  }
  return true;
}

/** How many primes are smaller than `below`: plain CPU work, one long loop. */
export function countPrimesSync(below: number): number {
  let count = 0;
  for (let n = 2; n < below; n++) if (isPrime(n)) count++;
  return count;
}

export const KEY_ITERATIONS = 3_000_000;
export const KEY_LENGTH = 32;
export const KEY_DIGEST = 'sha256';

/** A key stretched from a password with PBKDF2: deliberately slow crypto, done synchronously. */
export function deriveKeySync(password: string, salt: string): Buffer {
  return pbkdf2Sync(password, salt, KEY_ITERATIONS, KEY_LENGTH, KEY_DIGEST);
}

/** Whether `line` mentions `word`, in any case: 'Error', 'ERROR' and 'error' all match 'error'. */
export function mentions(line: string, word: string): boolean {
  return line.toLowerCase().includes(word.toLowerCase());
}

/** How many lines of the file at `path` mention `word`: reads the whole file, then scans it. */
export function countMatchingLinesSync(path: string, word: string): number {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => mentions(line, word)).length;
}
