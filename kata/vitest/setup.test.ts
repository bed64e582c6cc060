/**
 * The setup file's guards, on a test file written for the purpose and run by a Vitest of its own:
 * what a test leaves running, what escapes it, and deadlines that do not fit in it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { repoRoot } from '../paths.ts';

const kata = (file: string) => JSON.stringify(pathToFileURL(path.join(repoRoot, 'kata', file)).href);

const cases = `
import { Worker } from 'node:worker_threads';
import { spawn } from 'node:child_process';
import { test } from 'vitest';
import { within, sleep, failureOf, Timeline } from ${kata('testing/index.ts')};

function startIdleWorker() {
  return new Worker('setInterval(() => {}, 1000)', { eval: true });
}

test('leaves a worker running', async () => {
  startIdleWorker();
});
test('leaves a child running', async () => {
  spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
});
test('terminates its worker before it ends', async () => {
  await startIdleWorker().terminate();
});
test('drops a rejection', async () => {
  Promise.reject(new Error('nobody listens'));
  await sleep(20);
});
test('throws in a timer', async () => {
  setTimeout(() => { throw new Error('thrown in a timer'); }, 1);
  await sleep(20);
});
test('waits longer than its timeout', { timeout: 2_000 }, async () => {
  await within(5_000, sleep(10), 'never');
});
test('is shortened to what is left', { timeout: 3_000 }, async () => {
  await sleep(1_500);
  await within(1_900, new Promise(() => {}), 'the promise never settled');
});
test('calls a function that throws instead of rejecting', async () => {
  const notAsync = (): Promise<void> => { throw new Error('too early'); };
  await failureOf(() => notAsync(), 'it resolved');
});
test('rejects after it ended', async () => {
  setTimeout(() => Promise.reject(new Error('too late to blame a test')), 50);
});
test('is running when the late rejection comes', async () => {
  await sleep(200);
});
test('draws a timeline and passes', async () => {
  await new Timeline().run('a span', () => sleep(5));
});
test('draws a timeline and fails', async () => {
  await new Timeline().run('a span', () => sleep(5));
  throw new Error('failed on purpose');
});
`;

// What the sub-Vitest's reporter records of each test: the annotations' types.
const annotationsReporter = `{
  onTestCaseResult(testCase) {
    appendFileSync(process.env.KATA_ANNOTATIONS_FILE, JSON.stringify({ name: testCase.name, annotations: testCase.annotations().map((a) => a.type) }) + '\\n');
  },
}`;

let dir: string;
let report: Array<{ name: string; status: string; errors: string[]; annotations: string[] }>;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'kata-setup-test-'));
  writeFileSync(path.join(dir, 'cases.test.ts'), cases);
  writeFileSync(
    path.join(dir, 'vitest.config.ts'),
    `import { appendFileSync } from 'node:fs';\nexport default { test: { root: ${JSON.stringify(dir)}, include: ['cases.test.ts'], setupFiles: [${JSON.stringify(path.join(repoRoot, 'kata/vitest/setup.ts'))}], pool: 'forks', execArgv: ['--no-force-async-hooks-checks'], testTimeout: 10_000, reporters: ['json', ${annotationsReporter}] } };`,
  );
  const out = path.join(dir, 'report.json');
  const annotationsFile = path.join(dir, 'annotations.jsonl');
  spawnSync(
    process.execPath,
    [path.join(repoRoot, 'node_modules/vitest/vitest.mjs'), 'run', '--config', path.join(dir, 'vitest.config.ts'), `--outputFile.json=${out}`],
    {
      cwd: dir,
      env: {
        ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(VITEST|KATA_)/.test(name))),
        CI: 'true',
        KATA_ANNOTATIONS_FILE: annotationsFile,
      },
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  const json = JSON.parse(readFileSync(out, 'utf8'));
  const file = json.testResults[0];
  const annotations = new Map(
    readFileSync(annotationsFile, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { name: string; annotations: string[] })
      .map(({ name, annotations }) => [name, annotations]),
  );
  report = file.assertionResults.map((result: { title: string; status: string; failureMessages: string[] }) => ({
    name: result.title,
    status: result.status,
    errors: result.failureMessages,
    annotations: annotations.get(result.title) ?? [],
  }));
}, 90_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const outcome = (name: string) => report.find((result) => result.name === name)!;

describe('what a test leaves running fails that test, naming where it was started', () => {
  test('a worker', () => {
    expect(outcome('leaves a worker running').status).toBe('failed');
    expect(outcome('leaves a worker running').errors[0]).toMatch(
      /Still running 1 s after the test ended \(stopped now\):\n {2}worker thread \d+, started at startIdleWorker \(.*cases\.test\.ts:\d+:\d+\)/,
    );
  });
  test('a child process', () => {
    expect(outcome('leaves a child running').errors[0]).toMatch(/child process \d+, started at .*cases\.test\.ts:\d+/);
  });
  test('not what the test stopped itself', () => {
    expect(outcome('terminates its worker before it ends').status).toBe('passed');
  });
});

describe('what escapes a test fails it', () => {
  test('a rejection nobody handled', () => {
    expect(outcome('drops a rejection').errors[0]).toMatch(/A promise rejected with "Error: nobody listens" and nothing awaited it or caught it/);
  });
  test('an exception thrown in a callback', () => {
    expect(outcome('throws in a timer').errors[0]).toMatch(/An exception was thrown where no caller could catch it .*"Error: thrown in a timer"/);
  });
  test('one that comes after its test ended: the test running then', () => {
    expect(outcome('rejects after it ended').status).toBe('passed');
    expect(outcome('is running when the late rejection comes').errors[0]).toMatch(/A promise rejected with "Error: too late to blame a test"/);
  });
});

describe('deadlines fit in the test', () => {
  test('longer than the test: refused at once as a bug in the test', () => {
    expect(outcome('waits longer than its timeout').errors[0]).toMatch(/Test bug: within\(5000 ms\) .* cannot end before the test's own timeout of 2000 ms/);
  });
  test('longer than what is left: shortened, so the test fails with its own message', () => {
    expect(outcome('is shortened to what is left').errors[0]).toMatch(
      /the promise never settled \(gave up after \d+ ms, all that was left of the test's 3000 ms\)/,
    );
  });
});

test('a function that should reject but throws at once is told so', () => {
  expect(outcome('calls a function that throws instead of rejecting').errors[0]).toMatch(
    /The call threw "too early" at once, instead of returning a promise that rejects with it/,
  );
});

describe('what the kata relies on in Vitest (kata/vitest/vitest-internals.ts)', () => {
  test('a timeline drawn in a test is attached after the verdict, and the verdict stands', () => {
    expect(outcome('draws a timeline and passes')).toMatchObject({ status: 'passed', annotations: ['timeline'] });
    expect(outcome('draws a timeline and fails')).toMatchObject({ status: 'failed', annotations: ['timeline'] });
    expect(outcome('draws a timeline and fails').errors[0]).toContain('failed on purpose');
  });
});
