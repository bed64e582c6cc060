/**
 * Errors nobody caught: a promise that rejected with nothing awaiting it, an exception thrown in a
 * callback. Vitest would report them after the run, beside tests that all passed; here they fail
 * the test during which they happened, with a message about what escaped. (Vitest leaves them to
 * any other listener: "if there is another listener, assume that it's handled by user code".)
 */
interface Escaped {
  kind: 'rejection' | 'exception';
  error: unknown;
}

let during: Escaped[] | undefined;
const between: Escaped[] = [];
let lastTest = '';

const key = Symbol.for('concurrency-kata.escaped-errors');
const installed = globalThis as { [key]?: boolean };
if (!installed[key]) {
  installed[key] = true;
  process.on('unhandledRejection', (error) => (during ?? between).push({ kind: 'rejection', error }));
  process.on('uncaughtException', (error) => (during ?? between).push({ kind: 'exception', error }));
}

export const escapedErrors = {
  start(testName: string): void {
    during = [];
    lastTest = testName;
  },
  /** What escaped during the test, as messages; the test fails with them. */
  stop(): string[] {
    const seen = during ?? [];
    during = undefined;
    return seen.map(describe);
  },
};

/** What escaped between tests or after the last one, for the test file to fail with. */
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
    : `An exception was thrown where no caller could catch it (a callback or an event handler): "${what}".` + (where ? `\n${where}` : '');
}
