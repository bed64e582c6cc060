/**
 * Errors nobody caught: a promise that rejected with nothing awaiting it, an exception thrown in a
 * callback. Vitest would report them after the run, beside tests that all passed; here they fail
 * the test during whose function they happened, with a message about what escaped. (Vitest leaves
 * them to any other listener: "if there is another listener, assume that it's handled by user
 * code".) One that comes while the tests clean up (a pool destroyed with a reply in flight made
 * piscina emit an 'error' nobody listened to, once in 3 stress runs) is shown, not judged.
 */
import { testInProgress } from '../testing/deadline.ts';

interface Escaped {
  kind: 'rejection' | 'exception';
  error: unknown;
}

let during: Escaped[] = [];
const between: Escaped[] = [];
let lastTest = '';
const bucket = () => (testInProgress() ? during : between);

const key = Symbol.for('concurrency-kata.escaped-errors');
const installed = globalThis as { [key]?: boolean };
if (!installed[key]) {
  installed[key] = true;
  process.on('unhandledRejection', (error) => bucket().push({ kind: 'rejection', error }));
  process.on('uncaughtException', (error) => bucket().push({ kind: 'exception', error }));
}

export const escapedErrors = {
  start(testName: string): void {
    during = [];
    lastTest = testName;
  },
  /** What escaped during the test's function, as messages; the test fails with them. */
  stop(): string[] {
    return during.splice(0).map(describe);
  },
};

/** What escaped while no test function ran (clean-up, between tests), to be shown. */
export function outsideAnyTest(): string[] {
  return between.splice(0).map((escaped) => `${describe(escaped)}\n(It happened after a test had ended${lastTest ? `; the last was "${lastTest}"` : ''}.)`);
}

function describe({ kind, error }: Escaped): string {
  const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const where = error instanceof Error ? (error.stack ?? '').split('\n').slice(1, 4).join('\n') : '';
  return kind === 'rejection'
    ? `A promise rejected with "${what}" and nothing awaited it or caught it, so the error reached no caller.\n` +
        'Every promise you create must be returned, awaited, or given a .catch(); a rejection nobody handles is an error lost.' +
        (where ? `\n${where}` : '')
    : `An exception was thrown where no caller could catch it (a callback or an event handler): "${what}".${where ? `\n${where}` : ''}`;
}
