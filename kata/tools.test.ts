/**
 * The tools end to end, as a learner or a maintainer runs them, each with a state folder of its
 * own (KATA_STATE_DIR) so the repo's .kata is never touched. Only the cheap paths run here: the
 * ones that end before any test or measurement starts, a Vitest run that collects one file, and
 * a verify of one exercise interrupted at once.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { repoRoot } from './paths.ts';

let state: string;
beforeEach(() => {
  state = path.join(mkdtempSync(path.join(tmpdir(), 'kata-tools-test-')), '.kata');
});
afterEach(() => {
  rmSync(path.dirname(state), { recursive: true, force: true });
});

/** The environment of a fresh shell: none of this Vitest's variables, the state folder our own. */
function environment(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(VITEST|KATA_)/.test(name)));
  return { ...env, CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0', KATA_STATE_DIR: state };
}

const tools = {
  kata: 'kata/cli.ts',
  verify: 'kata/verify.ts',
  stress: 'kata/stress.ts',
  bench: 'bench/run.ts',
  fixtures: 'kata/fixtures.ts',
  mutate: 'kata/mutate.ts',
  vitest: 'node_modules/vitest/vitest.mjs',
};

function run(tool: keyof typeof tools, args: string[]) {
  const result = spawnSync(process.execPath, [path.join(repoRoot, tools[tool]), ...args], {
    cwd: repoRoot,
    env: environment(),
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const stackTrace = /^\s+at /m;

describe('a bad number: one line saying what is expected, the usage, exit code 2', () => {
  test.each([
    ['kata', ['hint', 'gather', '-1'], /^The hint level of gather must be a whole number from 1 to \d+, not "-1"$/],
    ['kata', ['hint', 'gather', '1e3'], /^The hint level of gather must be a whole number from 1 to \d+, not "1e3"$/],
    ['verify', ['--lanes', '-2'], /^--lanes takes a whole number from 1 to 64, not "-2"$/],
    ['verify', ['--lanes', '1e3'], /^--lanes takes a whole number from 1 to 64, not "1e3"$/],
    ['verify', ['--lanes', '0'], /^--lanes takes a whole number from 1 to 64, not "0"$/],
    ['stress', ['--runs', '-3'], /^--runs takes a whole number from 1 to 1000, not "-3"$/],
    ['stress', ['--runs', '2.5'], /^--runs takes a whole number from 1 to 1000, not "2.5"$/],
    ['bench', ['--samples', '1e3'], /^--samples takes a number from 0.1 to 10, not "1e3"$/],
    ['bench', ['--samples', 'lots'], /^--samples takes a number from 0.1 to 10, not "lots"$/],
  ] as const)('%s %j', (tool, args, message) => {
    const { code, stderr } = run(tool, [...args]);
    const lines = stderr.split('\n').filter(Boolean);
    expect(lines[0]).toMatch(message);
    expect(lines[1]).toMatch(/^Usage: npm run /);
    expect(stderr).not.toMatch(stackTrace);
    expect(code).toBe(2);
  });
});

describe('--help and -h: the usage, exit code 0', () => {
  test.each(['kata', 'verify', 'stress', 'bench', 'fixtures', 'mutate'] as const)('%s', (tool) => {
    for (const flag of ['--help', '-h']) {
      const { code, stdout } = run(tool, [flag]);
      expect(stdout, `${tool} ${flag}`).toMatch(/^Usage: npm run /);
      expect(code, `${tool} ${flag}`).toBe(0);
    }
  });
});

describe('a state folder that cannot be written', () => {
  // The tests run as root, for whom chmod does not stop a write: a file where the folder should
  // be stops everyone, and is what this stands for.
  beforeEach(() => writeFileSync(state, 'a file where the folder should be'));

  test.each([
    ['verify', ['gather']],
    ['stress', ['--runs', '1', 'gather']],
  ] as const)('%s stops before any work, with one line naming the folder and the fix', (tool, args) => {
    const { code, stderr } = run(tool, [...args]);
    expect(stderr.trim()).toMatch(/^Cannot write to \S+\.kata\/ \(EEXIST[^)]*\): make it a folder you can write to .*$/);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(code).toBe(1);
  });

  test('bench:quick checks its results folder before it measures', () => {
    const started = performance.now();
    const { code, stderr } = run('bench', ['--quick']);
    expect(stderr.trim()).toMatch(
      /^npm run bench: Cannot write to \S+bench-quick\/ \((EEXIST|ENOTDIR)[^)]*\): choose a folder you can write to with --out <dir>\.$/,
    );
    expect(code).toBe(1);
    expect(performance.now() - started, 'it measured first').toBeLessThan(15_000);
  });

  test('a passing npm test stays green: one line says the progress is not saved', () => {
    // -t with a name no test has: every test is skipped, so the run passes, and the reporter still saves.
    const { code, stdout, stderr } = run('vitest', ['run', '--project', 'exercises', 'gather', '-t', 'no test has this name', '--passWithNoTests']);
    expect(stderr).toMatch(/^Cannot write to \S+\.kata\/ \([^)]*\): .* Your progress is not saved\.$/m);
    expect(`${stdout}${stderr}`).not.toContain('Unhandled');
    expect(code).toBe(0);
  });
});

describe('a malformed progress file', () => {
  test.each([
    ['"files": null', '{"version":1,"files":null}'],
    ['"files": []', '{"version":1,"files":[]}'],
  ])('%s: set aside with one line, a passing npm test stays green, and the file is rebuilt', (_, text) => {
    mkdirSync(state, { recursive: true });
    writeFileSync(path.join(state, 'progress.json'), text);
    const { code, stdout, stderr } = run('vitest', ['run', '--project', 'exercises', 'gather', '-t', 'no test has this name', '--passWithNoTests']);
    expect(stderr).toMatch(
      /progress\.json was not a valid progress file \(.+\): kept as progress\.json\.broken-\S+ beside it, and rebuilt from your test runs\./,
    );
    expect(`${stdout}${stderr}`).not.toContain('Unhandled');
    expect(code).toBe(0);
    expect(JSON.parse(readFileSync(path.join(state, 'progress.json'), 'utf8'))).toEqual({ version: 1, files: {} });
    expect(readdirSync(state).filter((name) => name.includes('.broken-'))).toHaveLength(1);
  });
});

describe('progress whatever the reporter', () => {
  test.each(['verbose', 'dot', 'default'])('--reporter=%s records the exercise it ran, and ends with the progress', (reporter) => {
    const { stdout } = run('vitest', ['run', '--project', 'exercises', `--reporter=${reporter}`, 'exercises/01-async/01-gather']);
    const progress = JSON.parse(readFileSync(path.join(state, 'progress.json'), 'utf8')) as { files: Record<string, { exercise: string; failed: number }> };
    expect(Object.values(progress.files).map((result) => result.exercise)).toEqual(['gather']);
    expect(stdout).toMatch(/^ Kata .* of \d+ exercises done$/m);
  });
});

test('npm test -- gahter: the exercise ids, exit code 2', () => {
  const { code, stderr } = run('vitest', ['--project', 'exercises', 'gahter']);
  expect(stderr.trim()).toMatch(
    /^No exercise matches "gahter"\. Exercises: gather, limit, .*choose, event-loop, cancel, backpressure, single-flight, context, deadlock, rwlock, barrier, condition, wait-async$/,
  );
  expect(code).toBe(2);
});

describe('fixtures try: a folder that is not a folder of answers gets one line, exit code 2', () => {
  test.each([
    ['a missing folder', () => path.join(path.dirname(state), 'nowhere'), /^\S*nowhere is not a folder of answers \(<exercise>\/<answer>\/<files>\)$/],
    ['an unknown exercise', () => mkdirs('gahter/wrong-x'), /^\S*gahter: no exercise is called "gahter" \(exercises: gather, .*\)$/],
    ['an answer named neither wrong- nor right-', () => mkdirs('gather/maybe-x'), /^\S*maybe-x: an answer's name starts with wrong- or right-$/],
  ])('%s', (_, folder, said) => {
    const { code, stderr } = run('fixtures', ['try', folder()]);
    expect(stderr.split('\n')[0]).toMatch(said);
    expect(stderr).not.toMatch(stackTrace);
    expect(code).toBe(2);
  });
});

/** Makes `relative` below a fresh answers folder; returns that folder. */
function mkdirs(relative: string): string {
  const answers = path.join(path.dirname(state), 'answers');
  mkdirSync(path.join(answers, relative), { recursive: true });
  return answers;
}

test("the next run sweeps what a killed run left: verify's copies, plan files", () => {
  const dead = Number(spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim());
  mkdirSync(path.join(state, `verify-${dead}`, 'gather'), { recursive: true });
  writeFileSync(path.join(state, `plan-${dead}.json`), '[]');
  writeFileSync(path.join(state, 'progress.json'), '{"version":1,"files":{}}');
  expect(run('kata', ['hint', 'gather']).code).toBe(0);
  expect(readdirSync(state)).toEqual(['progress.json']);
});

test('an interrupted verify leaves no copies and no plan files', async () => {
  // Ctrl-C reaches the whole process group: verify, its lanes and their test processes.
  const verify = spawn(process.execPath, [path.join(repoRoot, tools.verify), 'gather', '--lanes', '1'], {
    cwd: repoRoot,
    env: environment(),
    detached: true,
    stdio: 'ignore',
  });
  const ended = new Promise<number | null>((resolve) => verify.on('exit', (code) => resolve(code)));
  const leftovers = () => (existsSync(state) ? readdirSync(state).filter((name) => /^(verify-|plan-)/.test(name)) : []);
  // Interrupt once the lane has written its plan: the copies and the plan exist then.
  for (let waited = 0; !leftovers().some((name) => name.startsWith('plan-')) && waited < 30_000; waited += 50)
    await new Promise((resolve) => setTimeout(resolve, 50));
  expect(leftovers().length, 'verify started its lane').toBeGreaterThan(1);
  process.kill(-verify.pid!, 'SIGINT');
  expect(await ended).toBe(130);
  // The lane ends on its own SIGINT a moment later.
  for (let waited = 0; leftovers().length > 0 && waited < 10_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(leftovers()).toEqual([]);
});

/** Processes still running with this test's state folder in their environment (a run's lanes, test processes, children). */
function processesOfThisRun(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`KATA_STATE_DIR=${state}\0`);
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function noneLeft(ms: number): Promise<number[]> {
  for (let waited = 0; processesOfThisRun().length > 0 && waited < ms; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
  return processesOfThisRun();
}

describe.skipIf(process.platform !== 'linux')('outer deadlines: what overruns is stopped with all it started, and named', () => {
  test('a verify lane', async () => {
    const result = spawnSync(process.execPath, [path.join(repoRoot, tools.verify), 'gather', '--lanes', '1'], {
      cwd: repoRoot,
      env: { ...environment(), KATA_BATCH_MINUTES: '0.02' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.stderr).toMatch(
      /^verify stopped: A lane running .*(solutions|stubs|gather).* did not finish in 0\.02 minutes: it was stopped, with every process it started\./,
    );
    expect(result.stderr).not.toMatch(stackTrace);
    expect(result.status).toBe(1);
    expect(await noneLeft(5_000)).toEqual([]);
  });

  test('the tests that kata list runs to bring the progress up to date', async () => {
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [path.join(repoRoot, tools.kata), 'list'], {
        cwd: repoRoot,
        env: { ...environment(), KATA_REFRESH_MINUTES: '0.005' },
      });
      let said = '';
      child.stderr.on('data', (chunk: Buffer) => (said += chunk));
      child.on('close', (exitCode) => resolve({ code: exitCode, stderr: said }));
    });
    expect(stderr).toMatch(/did not finish in 0\.005 minutes, so their progress is not known\. Run them with npm test -- <exercise>/);
    expect(stderr).not.toMatch(stackTrace);
    expect(code).toBe(1);
    expect(await noneLeft(5_000)).toEqual([]);
  });
});
