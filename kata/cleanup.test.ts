import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { isAlive, sweepLeftovers } from './cleanup.ts';

/** The pid of a process that has ended: a child that exits at once. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  return Number(child.stdout.trim());
}

let state: string;
let temporary: string;
beforeEach(() => {
  state = mkdtempSync(path.join(tmpdir(), 'kata-cleanup-state-'));
  temporary = mkdtempSync(path.join(tmpdir(), 'kata-cleanup-tmp-'));
});
afterEach(() => {
  rmSync(state, { recursive: true, force: true });
  rmSync(temporary, { recursive: true, force: true });
});

describe('isAlive', () => {
  test('this process is, an ended one is not (kill(pid, 0) throws ESRCH)', () => {
    expect(isAlive(process.pid)).toBe(true);
    expect(isAlive(deadPid())).toBe(false);
  });
});

describe('sweepLeftovers', () => {
  test("removes what dead runs left, keeps live runs' files and everything else", () => {
    const dead = deadPid();
    mkdirSync(path.join(state, `verify-${dead}`, 'together'), { recursive: true });
    writeFileSync(path.join(state, `verify-${dead}`, 'together', 'lane-0.log'), 'x');
    for (const name of [`ui-check-exercises-${dead}`, `ui-check-state-${dead}`]) mkdirSync(path.join(state, name));
    for (const name of [`plan-${dead}.json`, `ui-check-plan-${dead}.json`, `progress.json.${dead}.tmp`]) writeFileSync(path.join(state, name), '{}');
    // This run's own files, and what is not a leftover at all.
    mkdirSync(path.join(state, `verify-${process.pid}`));
    for (const name of [`plan-${process.pid}.json`, 'progress.json', 'progress.json.broken-2026-01-01T00-00-00-000Z'])
      writeFileSync(path.join(state, name), '{}');
    mkdirSync(path.join(state, 'backups'));
    mkdirSync(path.join(temporary, `kata-bench-quick-${dead}-AbC123`));
    mkdirSync(path.join(temporary, 'kata-bench-quick-notapid'));

    const removed = sweepLeftovers({ state, temporary });

    expect(removed.map((file) => path.basename(file)).sort()).toEqual(
      [
        `kata-bench-quick-${dead}-AbC123`,
        `plan-${dead}.json`,
        `progress.json.${dead}.tmp`,
        `ui-check-exercises-${dead}`,
        `ui-check-plan-${dead}.json`,
        `ui-check-state-${dead}`,
        `verify-${dead}`,
      ].sort(),
    );
    expect(readdirSync(state).sort()).toEqual(
      ['backups', `plan-${process.pid}.json`, 'progress.json', 'progress.json.broken-2026-01-01T00-00-00-000Z', `verify-${process.pid}`].sort(),
    );
    expect(readdirSync(temporary)).toEqual(['kata-bench-quick-notapid']);
  });

  test('no .kata yet: nothing to do', () => {
    expect(sweepLeftovers({ state: path.join(state, 'missing'), temporary: path.join(temporary, 'missing') })).toEqual([]);
  });
});

describe('cleanUpOnExit', () => {
  const cleanupModule = path.join(import.meta.dirname, 'cleanup.ts');
  /** A process that makes a file, promises to remove it on exit, says "ready" and waits. */
  function startWaiting(file: string) {
    const script = `
      import { writeFileSync, rmSync } from 'node:fs';
      import { cleanUpOnExit } from ${JSON.stringify(cleanupModule)};
      writeFileSync(${JSON.stringify(file)}, 'x');
      cleanUpOnExit(() => rmSync(${JSON.stringify(file)}, { force: true }));
      setInterval(() => {}, 1000);
      console.log('ready');`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const ready = new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const ended = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, ready, ended };
  }

  test.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s: the cleanup runs, and the exit code says which signal (%i)', async (signal, code) => {
    const file = path.join(state, `plan-${signal}.json`);
    const { child, ready, ended } = startWaiting(file);
    await ready;
    expect(existsSync(file)).toBe(true);
    child.kill(signal);
    expect(await ended).toBe(code);
    expect(existsSync(file)).toBe(false);
  });
});
