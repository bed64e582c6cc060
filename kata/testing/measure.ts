import { appendFileSync } from 'node:fs';
import { targetDir } from '../inside/target.ts';

/** One comparison of a measured figure against a bound, as `npm run stress -- --verify` collects them. */
export interface Measure {
  /** What was compared, stable across runs: `blocking: longest busy stretch (ms)`. */
  check: string;
  value: number;
  bound: number;
  /** Whether passing means staying at or under the bound (`max`), or at or over it (`min`). */
  side: 'max' | 'min';
  test: string;
  /** The folder the suite ran against: solutions/, exercises/ or a fixture's copy. */
  target: string;
  node: string;
}

let currentTest = '';
/** Set by the setup file before each test (this module does not import Vitest itself). */
export function measuringTest(name: string): void {
  currentTest = name;
}

/**
 * Records `value` against `bound` when KATA_MEASURES names a file, and returns `value`, so it can
 * wrap the figure an assertion reads. Every test that compares a time, a CPU figure or a speed-up
 * with a bound records it: the distributions on right and wrong answers, idle and beside a CPU
 * hog, are what tells a bound that separates them from one that flips a coin (CONTRIBUTING.md).
 */
export function measured(check: string, value: number, bound: number, side: Measure['side'] = 'max'): number {
  const file = process.env.KATA_MEASURES;
  if (!file) return value;
  const line: Measure = { check, value, bound, side, test: currentTest, target: targetDir(), node: process.version };
  try {
    appendFileSync(file, `${JSON.stringify(line)}\n`);
  } catch {
    // A measurement that cannot be written must never change a verdict.
  }
  return value;
}
