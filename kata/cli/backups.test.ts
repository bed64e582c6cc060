/**
 * reset and restore, end to end, in a throwaway copy of the kata with one exercise and a git of
 * its own: they write into the exercise's folder, which must never be this repo's.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { repoRoot } from '../paths.ts';
import { filesIn } from './backups.ts';

const folder = '01-async/01-gather';
let copy: string;
let exercise: string;
let stub: string;

const git = (...args: string[]) => spawnSync('git', ['-c', 'user.name=kata', '-c', 'user.email=kata@example.com', ...args], { cwd: copy, encoding: 'utf8' });

beforeAll(() => {
  copy = mkdtempSync(path.join(tmpdir(), 'kata-backups-test-'));
  for (const part of ['kata', 'package.json', `exercises/${folder}`, `solutions/${folder}`])
    cpSync(path.join(repoRoot, part), path.join(copy, part), { recursive: true });
  symlinkSync(path.join(repoRoot, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
  git('init', '-q');
  git('add', 'exercises', 'solutions');
  git('commit', '-q', '-m', 'the stub');
  exercise = path.join(copy, 'exercises', folder);
  stub = readFileSync(path.join(exercise, 'gather.ts'), 'utf8');
});
afterAll(() => rmSync(copy, { recursive: true, force: true }));

beforeEach(() => {
  rmSync(path.join(copy, '.kata'), { recursive: true, force: true });
  git('checkout', '-q', '--', 'exercises');
  git('clean', '-q', '-f', '--', 'exercises');
});

/** The kata command in the copy, as a learner runs it, without a terminal (stdin is not a TTY). */
function kata(...args: string[]) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(VITEST|KATA_)/.test(name)));
  const result = spawnSync(process.execPath, [path.join(copy, 'kata/cli.ts'), ...args], {
    cwd: copy,
    env: { ...env, NO_COLOR: '1' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
}

const backups = () => (existsSync(path.join(copy, '.kata/backups/gather')) ? readdirSync(path.join(copy, '.kata/backups/gather')).sort() : []);

/** What a learner does before a reset: their answer, a file of their own, and a note in the README. */
function work(answer = '// my answer\n') {
  writeFileSync(path.join(exercise, 'gather.ts'), answer);
  mkdirSync(path.join(exercise, 'lib'));
  writeFileSync(path.join(exercise, 'lib/helper.ts'), '// my helper\n');
  writeFileSync(path.join(exercise, 'README.md'), 'my notes in the README\n');
}

describe('reset', () => {
  test("backs up the learner's files only: their code and the files they added, not the README, hints or tests", () => {
    work();
    const { code, stdout } = kata('reset', 'gather', '--yes');
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /^gather is the stub again\. Your files are kept in \.kata\/backups\/gather\/\S+\/ \(npm run kata -- restore gather puts them back\)\.$/,
    );
    expect(backups()).toHaveLength(1);
    expect(filesIn(path.join(copy, '.kata/backups/gather', backups()[0]!))).toEqual(['gather.ts', 'lib/helper.ts']);
    expect(readFileSync(path.join(exercise, 'gather.ts'), 'utf8')).toBe(stub);
    expect(existsSync(path.join(exercise, 'lib')), 'the folder the learner made').toBe(false);
  });
});

describe('restore', () => {
  test('without a backup: one line, exit code 1', () => {
    const { code, stdout, stderr } = kata('restore', 'gather', '--yes');
    expect(stderr).toBe('gather has no backup to restore: reset makes one (in .kata/backups/gather/) before it puts the stub back.');
    expect(stdout).toBe('');
    expect(code).toBe(1);
  });

  test('without a terminal and without --yes: one line, nothing changed', () => {
    work();
    kata('reset', 'gather', '--yes');
    const { code, stderr } = kata('restore', 'gather');
    expect(stderr).toBe(
      'restore replaces gather.ts, lib/helper.ts in exercises/01-async/01-gather and needs a yes: run it in a terminal, or add --yes: npm run kata -- restore gather --yes',
    );
    expect(code).toBe(1);
    expect(readFileSync(path.join(exercise, 'gather.ts'), 'utf8')).toBe(stub);
  });

  test("puts the latest backup back, and says which and from when; the README stays the kata's", () => {
    work('// my first answer\n');
    kata('reset', 'gather', '--yes');
    work('// my second answer\n');
    rmSync(path.join(exercise, 'lib'), { recursive: true });
    kata('reset', 'gather', '--yes');
    const [, latest] = backups();
    const { code, stdout } = kata('restore', 'gather', '--yes');
    expect(stdout).toMatch(
      new RegExp(`^gather is back as it was on \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d \\(just now\\): gather\\.ts, from \\.kata/backups/gather/${latest}/$`),
    );
    expect(code).toBe(0);
    expect(readFileSync(path.join(exercise, 'gather.ts'), 'utf8')).toBe('// my second answer\n');
    expect(readFileSync(path.join(exercise, 'README.md'), 'utf8')).not.toContain('my notes');
  });

  test('brings back the files reset removed', () => {
    work();
    kata('reset', 'gather', '--yes');
    expect(kata('restore', 'gather', '--yes').code).toBe(0);
    expect(readFileSync(path.join(exercise, 'lib/helper.ts'), 'utf8')).toBe('// my helper\n');
  });

  test('work done since the reset goes to a backup of its own first', () => {
    work('// before the reset\n');
    kata('reset', 'gather', '--yes');
    writeFileSync(path.join(exercise, 'gather.ts'), '// after the reset\n');
    const { code, stdout } = kata('restore', 'gather', '--yes');
    expect(code).toBe(0);
    expect(stdout).toMatch(/\. Your files as they were are kept in \.kata\/backups\/gather\/\S+\/$/);
    expect(readFileSync(path.join(exercise, 'gather.ts'), 'utf8')).toBe('// before the reset\n');
    const newest = backups().at(-1)!;
    expect(readFileSync(path.join(copy, '.kata/backups/gather', newest, 'gather.ts'), 'utf8')).toBe('// after the reset\n');
  });

  test('an older backup that holds the README and tests too: only the learner files come back', () => {
    const old = path.join(copy, '.kata/backups/gather/2026-01-02T03-04-05-678');
    cpSync(exercise, old, { recursive: true });
    writeFileSync(path.join(old, 'gather.ts'), '// from an old backup\n');
    writeFileSync(path.join(old, 'README.md'), 'an old README\n');
    const { code, stdout } = kata('restore', 'gather', '--yes');
    expect(stdout).toMatch(/^gather is back as it was on 2026-01-0\d \d\d:\d\d \(\d+ days ago\): gather\.ts, from /);
    expect(code).toBe(0);
    expect(readFileSync(path.join(exercise, 'README.md'), 'utf8')).not.toBe('an old README\n');
  });
});

test('help and --help list every verb', () => {
  for (const args of [['help'], ['--help']]) {
    const { code, stdout } = kata(...args);
    expect(code).toBe(0);
    for (const verb of ['list', 'next', 'hint', 'compare', 'reset', 'restore', 'help'])
      expect(stdout, `${args[0]}: ${verb}`).toMatch(new RegExp(`^  ${verb}\\b`, 'm'));
  }
});
