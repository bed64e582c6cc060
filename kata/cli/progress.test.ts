import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { NotWritable } from '../writable.ts';
import { type FileResult, readProgress, saveResults } from './progress.ts';
import { progressProblem } from './progress-file.ts';

const result: FileResult = { exercise: 'gather', hash: 'abc', passed: 8, failed: 0, skipped: 0, errors: 0, notImplemented: 0, at: '2026-01-01T00:00:00.000Z' };

let dir: string;
let file: string;
let said: string[];
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'kata-progress-test-'));
  file = path.join(dir, 'progress.json');
  said = [];
  vi.spyOn(console, 'error').mockImplementation((line: string) => void said.push(line));
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

describe('progressProblem', () => {
  test('a valid file has none', () => {
    expect(progressProblem({ version: 1, files: {} })).toBeUndefined();
    expect(progressProblem({ version: 1, files: { 'exercises/a.test.ts': result } })).toBeUndefined();
  });

  test.each([
    [{ version: 1, files: null }, 'its "files" is null, not an object'],
    [{ version: 1, files: [] }, 'its "files" is a list, not an object'],
    [{ version: 1 }, 'its "files" is missing, not an object'],
    [{ version: 1, files: { 'a.test.ts': null } }, 'the entry for a.test.ts is null, not an object'],
    [{ version: 1, files: { 'a.test.ts': { ...result, passed: -1 } } }, 'the entry for a.test.ts has no count "passed"'],
    [{ version: 1, files: { 'a.test.ts': { ...result, hash: 3 } } }, 'the entry for a.test.ts has no text "hash"'],
    [{ version: 2, files: {} }, 'its "version" is 2, not 1'],
    [42, 'it holds a number, not an object'],
    [[], 'it holds a list, not an object'],
    [null, 'it holds null, not an object'],
  ])('%j: %s', (data, problem) => {
    expect(progressProblem(data)).toBe(problem);
  });
});

describe('readProgress', () => {
  test('no file yet: empty progress, nothing said', () => {
    expect(readProgress(file)).toEqual({ version: 1, files: {} });
    expect(said).toEqual([]);
  });

  test('a valid file is read as it is', () => {
    writeFileSync(file, JSON.stringify({ version: 1, files: { 'a.test.ts': result } }));
    expect(readProgress(file).files['a.test.ts']).toEqual(result);
    expect(readdirSync(dir)).toEqual(['progress.json']);
  });

  test.each([
    ['"files": null', '{"version":1,"files":null}'],
    ['a null entry', '{"version":1,"files":{"a.test.ts":null}}'],
    ['"files": []', '{"version":1,"files":[]}'],
    ['invalid JSON', '{"version":1,"files":'],
    ['a number', '42'],
  ])('%s: set aside with one line, and the progress starts over', (_, text) => {
    writeFileSync(file, text);
    expect(readProgress(file)).toEqual({ version: 1, files: {} });
    const broken = readdirSync(dir).filter((name) => name.startsWith('progress.json.broken-'));
    expect(broken).toHaveLength(1);
    // Kept as it was, for whoever wants to see what broke it.
    expect(readFileSync(path.join(dir, broken[0]!), 'utf8')).toBe(text);
    expect(said).toHaveLength(1);
    expect(said[0]).toContain('was not a valid progress file');
    expect(said[0]).toContain(broken[0]);
    expect(said[0]).not.toContain('\n');
  });

  test('"files": [] no longer swallows what is saved: the results are written and read back', () => {
    writeFileSync(file, '{"version":1,"files":[]}');
    saveResults({ 'a.test.ts': result }, file);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ version: 1, files: { 'a.test.ts': result } });
  });

  test('two broken files in the same millisecond are both kept', () => {
    writeFileSync(file, 'x');
    readProgress(file);
    writeFileSync(file, 'y');
    readProgress(file);
    expect(readdirSync(dir).filter((name) => name.startsWith('progress.json.broken-'))).toHaveLength(2);
  });
});

describe('saveResults into a folder that cannot be written', () => {
  // The tests run as root, for whom chmod does not stop a write: a file where the folder should
  // be stops it for everyone (mkdir fails with EEXIST, a write inside it with ENOTDIR).
  test('a NotWritable error of one line naming the folder; the results are kept for this process', () => {
    const blocked = path.join(dir, '.kata');
    writeFileSync(blocked, 'a file, not a folder');
    const inside = path.join(blocked, 'progress.json');
    let thrown: unknown;
    try {
      saveResults({ 'a.test.ts': result }, inside);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(NotWritable);
    const message = (thrown as Error).message;
    expect(message).toMatch(/^Cannot write to \S*\.kata\/ \((EEXIST|ENOTDIR)[^)]*\): make it a folder you can write to/);
    expect(message).not.toContain('\n');
    expect(readProgress(inside).files['a.test.ts']).toEqual(result);
  });
});
