import { describe, expect, test } from 'vitest';
import { unmatchedFilters, vitestCommandLine } from './command-line.ts';

const node = '/usr/bin/node';

describe('vitestCommandLine', () => {
  test("npm test -- gather: Vitest's CLI, its filter and project", () => {
    expect(vitestCommandLine([node, '/repo/node_modules/.bin/vitest', '--project', 'exercises', 'gather'])).toEqual({
      filters: ['gather'],
      projects: ['exercises'],
      movedRoot: false,
    });
    expect(vitestCommandLine([node, '/repo/node_modules/vitest/vitest.mjs', 'run', '--project=solutions', '-t', 'a name', 'x'])).toEqual({
      filters: ['x'],
      projects: ['solutions'],
      movedRoot: false,
    });
  });

  test('npm run ui: no filter', () => {
    expect(vitestCommandLine([node, '/repo/node_modules/.bin/vitest', 'watch', '--project', 'exercises', '--ui', '--open=false'])?.filters).toEqual([]);
  });

  test("verify, stress and the kata command are not Vitest's CLI: their arguments are their own", () => {
    expect(vitestCommandLine([node, '/repo/kata/verify.ts', 'gather'])).toBeUndefined();
    expect(vitestCommandLine([node, '/repo/kata/vitest/run-targets.ts'])).toBeUndefined();
    expect(vitestCommandLine([node, '/repo/kata/cli.ts', 'list'])).toBeUndefined();
  });

  test('--dir and --root move where filters are matched from', () => {
    expect(vitestCommandLine([node, '/repo/node_modules/.bin/vitest', '--project', 'exercises', '--dir', 'exercises', 'x'])?.movedRoot).toBe(true);
  });
});

describe('unmatchedFilters', () => {
  const cwd = '/repo';
  const tests = ['exercises/01-async/01-gather/gather.test.ts', 'exercises/02-threads/01-worker/worker.test.ts'];
  test.each([
    'gather',
    'GATHER',
    'exercises/01-async/01-gather',
    './exercises/01-async/01-gather/',
    '/repo/exercises/01-async',
    'gather.test.ts:12',
    '01-async',
    'threads/01',
  ])('"%s" matches, as it does for Vitest', (filter) => {
    expect(unmatchedFilters([filter], tests, cwd)).toEqual([]);
  });

  test('an unknown id, a misspelling, a path elsewhere: unmatched', () => {
    expect(unmatchedFilters(['gahter', 'gather', '/elsewhere/gather', 'exercises/03'], tests, cwd)).toEqual(['gahter', '/elsewhere/gather', 'exercises/03']);
  });
});
