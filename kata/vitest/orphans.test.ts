/**
 * No orphans, whoever stops the run: a test that started a spinning child (which started one of
 * its own) is running when its Vitest is killed with SIGKILL, or its test process is. Nothing of
 * the run may be left (kata/inside/reaper.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { repoRoot } from '../paths.ts';
import { until } from '../testing/deadline.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'kata-orphans-test-'));
});
/** Whatever a failing test leaves is stopped here, so the check itself leaves nothing behind. */
const started: number[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Ended, as it should have.
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

const isAlive = (pid: number) => {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return false;
  }
};

/** Starts a Vitest whose one test leaves a spinning child and grandchild, and says their pids and its test process's. */
async function runnerWithSpinningChildren() {
  const pids = path.join(dir, 'pids.json');
  writeFileSync(
    path.join(dir, 'spin.test.ts'),
    `
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { test } from 'vitest';
import ${JSON.stringify(pathToFileURL(path.join(repoRoot, 'kata/testing/index.ts')).href)};
test('spins', async () => {
  const script = "require('node:child_process').spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }); for(;;){}";
  const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  // The grandchild starts once the child's Node is up: a busy machine takes a while.
  let grandchild = 0;
  for (let waited = 0; grandchild === 0 && waited < 20_000; waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    grandchild = Number(require('node:fs').readFileSync('/proc/' + child.pid + '/task/' + child.pid + '/children', 'utf8').trim().split(' ')[0] || 0);
  }
  writeFileSync(${JSON.stringify(pids)}, JSON.stringify({ child: child.pid, grandchild, testProcess: process.pid }));
  await new Promise(() => {});
}, 60_000);
`,
  );
  writeFileSync(
    path.join(dir, 'vitest.config.ts'),
    `export default { test: { root: ${JSON.stringify(dir)}, include: ['spin.test.ts'], setupFiles: [${JSON.stringify(path.join(repoRoot, 'kata/vitest/setup.ts'))}], pool: 'forks' } };`,
  );
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(VITEST|KATA_)/.test(name))), CI: 'true' };
  const runner = spawn(process.execPath, [path.join(repoRoot, 'node_modules/vitest/vitest.mjs'), 'run', '--config', path.join(dir, 'vitest.config.ts')], {
    cwd: dir,
    env,
    stdio: 'ignore',
  });
  expect(await until(() => existsSync(pids), 40_000, { everyMs: 50 }), 'the test never started its children').toBe(true);
  const seen = JSON.parse(readFileSync(pids, 'utf8')) as { child: number; grandchild: number; testProcess: number };
  // Never 0 or less: kill(0) would signal this very process group.
  started.push(...[seen.child, seen.grandchild, seen.testProcess, runner.pid!].filter((pid) => pid > 0));
  expect([seen.child, seen.grandchild, seen.testProcess].every(isAlive), 'the children were not all running').toBe(true);
  return { runner, ...seen };
}

test.skipIf(process.platform !== 'linux')('SIGKILL to Vitest: its test process, the child and the grandchild all end', async () => {
  const { runner, child, grandchild, testProcess } = await runnerWithSpinningChildren();
  runner.kill('SIGKILL');
  expect(
    await until(() => ![testProcess, child, grandchild].some(isAlive), 10_000, { everyMs: 50 }),
    `still alive: ${[testProcess, child, grandchild].filter(isAlive).join(', ')}`,
  ).toBe(true);
});

test.skipIf(process.platform !== 'linux')('SIGKILL to the test process itself: the child and the grandchild end', async () => {
  const { runner, child, grandchild, testProcess } = await runnerWithSpinningChildren();
  process.kill(testProcess, 'SIGKILL');
  expect(await until(() => ![child, grandchild].some(isAlive), 10_000, { everyMs: 50 }), `still alive: ${[child, grandchild].filter(isAlive).join(', ')}`).toBe(
    true,
  );
  runner.kill('SIGKILL');
});
