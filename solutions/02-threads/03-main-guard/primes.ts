// Given: the CPU work of this exercise. You do not need to change this file.

/** True when `n` is prime, by trial division: slow on purpose, a fixed amount of work per number. */
export function isPrime(n: number): boolean {
  if (n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let divisor = 3; divisor * divisor <= n; divisor += 2) {
    if (n % divisor === 0) return false;
  }
  return true;
}

/** How many primes there are in [from, to). */
export function countPrimesBetween(from: number, to: number): number {
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to)) {
    throw new RangeError(`countPrimesBetween needs whole numbers, got from = ${from} and to = ${to}`);
  }
  let count = 0;
  for (let n = from; n < to; n += 1) {
    if (isPrime(n)) count += 1;
  }
  return count;
}
