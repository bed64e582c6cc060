/**
 * What vitest.config.ts needs to know of Vitest's own command line (`npm test -- gather`,
 * `npm run test:tooling`). verify, stress and the kata command create Vitest themselves, with
 * their own process.argv: for them there is no Vitest command line, and nothing here applies.
 */
import path from 'node:path';
import { parseCLI } from 'vitest/node';
import { exercises } from '../catalog.ts';

export interface VitestCommandLine {
  /** The file filters: `gather` in `vitest --project exercises gather`. */
  filters: string[];
  /** The names given with --project. */
  projects: string[];
  /** --dir or --root: the filters are then matched from elsewhere, and left to Vitest. */
  movedRoot: boolean;
}

/** Vitest's command line, when this process is Vitest's CLI (node_modules/.bin/vitest); otherwise undefined. */
export function vitestCommandLine(argv = process.argv): VitestCommandLine | undefined {
  if (!/[\\/]vitest(\.mjs)?$/.test(argv[1] ?? '')) return undefined;
  try {
    const { filter, options } = parseCLI(['vitest', ...argv.slice(2)], { allowUnknownOptions: true });
    const projects = [options.project ?? []].flat().map(String);
    return { filters: filter.map(String), projects, movedRoot: options.dir !== undefined || options.root !== undefined };
  } catch {
    return undefined; // Vitest itself will say what is wrong with it
  }
}

/**
 * The filters that select none of `testFiles`, matched as Vitest matches them: a part of the
 * path relative to `cwd`, case-insensitive, or the start of an absolute path; `:line` ignored.
 */
export function unmatchedFilters(filters: string[], testFiles: string[], cwd = process.cwd()): string[] {
  const files = testFiles.map((file) => ({ absolute: path.resolve(cwd, file), relative: path.relative(cwd, path.resolve(cwd, file)).toLowerCase() }));
  return filters.filter((filter) => {
    const name = filter.replace(/:\d+$/, '');
    const fromCwd = path.relative(cwd, path.resolve(cwd, name));
    const relative = (name.endsWith('/') ? `${fromCwd}/` : fromCwd).toLowerCase();
    return !files.some(
      (file) => (path.isAbsolute(name) && file.absolute.startsWith(name)) || file.relative.includes(name.toLowerCase()) || file.relative.includes(relative),
    );
  });
}

/** The projects whose tests are the exercises' (`npm test`, `npm run ui`, `npm run test:solutions`). */
const exerciseProjects = ['exercises', 'solutions'];

/**
 * `npm test -- gahter` is answered with the exercise ids (Vitest would say only "No test files
 * found"): one line, exit code 2. Only for the exercises' projects; other runs are left alone.
 */
export function exitOnUnknownExercise(commandLine: VitestCommandLine | undefined, all = exercises()): void {
  if (!commandLine || commandLine.movedRoot || commandLine.filters.length === 0) return;
  if (commandLine.projects.length === 0 || !commandLine.projects.every((name) => exerciseProjects.includes(name))) return;
  const unknown = unmatchedFilters(
    commandLine.filters,
    all.flatMap((exercise) => exercise.tests),
  );
  if (unknown.length === 0) return;
  console.error(`No exercise matches ${unknown.map((filter) => `"${filter}"`).join(', ')}. Exercises: ${all.map((exercise) => exercise.id).join(', ')}`);
  process.exit(2);
}
