// The tests' own reference worker: the same trial division as primes.ts, on the range it is given.
// Timing it at 1 and 2 threads tells the tests whether this machine can show a speed-up right now.
import { parentPort, workerData } from 'node:worker_threads';

const { from, to } = workerData as { from: number; to: number };
let count = 0;
for (let n = from; n < to; n += 1) {
  let prime = n >= 2 && (n % 2 !== 0 || n === 2);
  for (let divisor = 3; prime && divisor * divisor <= n; divisor += 2) prime = n % divisor !== 0;
  if (prime) count += 1;
}
parentPort!.postMessage(count);
