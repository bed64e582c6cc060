/**
 * The maintainer's fixture tools: `npm run fixtures -- <command> [<exercise>...]`.
 *
 *   to-patch   turns each answer kept as a folder into a patch against its solution, when it
 *              only edits the solution's files and the patch copies fewer of their lines than the folder
 *   copies     how many lines of fixtures/ are unchanged copies of solution lines (the goal: at most 20%)
 *   format     formats the tree with Biome (biome.json) and writes again every patch whose solution
 *              the formatter changed, its mistake formatted the same way, so that it still applies
 *   try <folder>  runs answers written outside the repo as a learner's run (see kata/try-answers.ts)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { diffLines } from 'diff';
import { exists, type Fixture, fixtures, selectExercises } from './catalog.ts';
import { parseCommandLine } from './cli/args.ts';
import { folderAsPatch, patchedFiles, patchOf } from './fixture-patch.ts';
import { repoRoot } from './paths.ts';
import { tryAnswers } from './try-answers.ts';

const biome = path.join(repoRoot, 'node_modules', '@biomejs', 'biome', 'bin', 'biome');
const usage = 'Usage: npm run fixtures -- <to-patch|copies|format> [<exercise>...]  or  npm run fixtures -- try <folder> [<exercise>...]';
let command: string;
let ids: string[];
try {
  const { values, positionals } = parseCommandLine({
    args: process.argv.slice(2),
    options: { help: { type: 'boolean', short: 'h', default: false } },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(
      `${usage}\n  to-patch  turns answers kept as folders into patches against their solution\n  copies    counts the lines of fixtures/ copied from solutions\n` +
        '  format    formats the tree and writes the patches again to match\n  try       runs answers written outside the repo as a learner runs them',
    );
    process.exit(0);
  }
  [command = '', ...ids] = positionals;
  if (command === 'try') {
    const [folder, ...only] = ids;
    if (!folder) throw new Error('Name the folder of answers to try.');
    process.exitCode = await tryAnswers(folder, only);
  } else {
    if (command !== 'to-patch' && command !== 'copies' && command !== 'format') throw new Error(command ? `Unknown command "${command}".` : 'Name a command.');
    if (command === 'format' && ids.length > 0) throw new Error('format formats the whole tree: it takes no exercise.');
    const all = selectExercises(ids).flatMap(fixtures);
    if (command === 'to-patch') toPatches(all);
    else if (command === 'format') formatTree(all);
    else console.log(copies(all));
  }
} catch (error) {
  console.error(`${(error as Error).message}\n${usage}`);
  process.exit(2);
}

function toPatches(all: Fixture[]): void {
  let made = 0;
  for (const fixture of all) {
    if (fixture.patch !== undefined) continue;
    const solutionFile = (file: string) => path.join(fixture.exercise.solutionDir, file);
    if (!fixture.files.every((file) => exists(solutionFile(file)))) continue;
    const copied = fixture.files
      .map((file) => lineCounts(solutionFile(file), path.join(fixture.dir, file)))
      .reduce((sum, counts) => sum + counts.total - counts.changed, 0);
    const patch = folderAsPatch(fixture);
    const copiedInPatch = contextLines(patch);
    if (copiedInPatch >= copied) continue; // a rewrite: as a patch it would carry as many copied lines
    writeFileSync(`${fixture.dir}.patch`, patch);
    rmSync(fixture.dir, { recursive: true });
    made += 1;
    console.log(`${path.relative(repoRoot, fixture.dir)}.patch  (${copied} copied lines as a folder, ${copiedInPatch} as a patch)`);
  }
  console.log(`${made} answers turned into patches`);
}

/**
 * Formats the tree, and each wrong answer kept as a patch the same way: the answer is laid over its
 * solution before, formatted as the solution's file would be, and written as a patch again against
 * the formatted solution. (fixtures/ itself is not formatted: its folders are answers as written.)
 */
function formatTree(all: Fixture[]): void {
  const solutionText = (fixture: Fixture, file: string) => readFileSync(path.join(fixture.exercise.solutionDir, file), 'utf8');
  const answers = all
    .filter((fixture) => fixture.patch !== undefined)
    .map((fixture) => ({ fixture, files: patchedFiles(fixture), solutions: fixture.files.map((file) => solutionText(fixture, file)) }));
  execFileSync(process.execPath, [biome, 'format', '--write', '.'], { cwd: repoRoot, stdio: 'inherit' });
  let rewritten = 0;
  for (const { fixture, files, solutions } of answers) {
    const formatted = files.map(([file, text]): [string, string] => [file, formatLike(path.join(fixture.exercise.solutionDir, file), text)]);
    // A patch stays as it is while neither its solution nor its own lines change.
    const unchanged =
      fixture.files.every((file, index) => solutionText(fixture, file) === solutions[index]) && formatted.every(([, text], index) => text === files[index]![1]);
    if (unchanged) continue;
    writeFileSync(fixture.dir, patchOf(fixture, formatted));
    rewritten += 1;
  }
  console.log(`${rewritten} patches written again against the formatted solutions`);
}

/** `text` formatted as Biome formats the file at `file`; the header's comment lines stay at the top. */
function formatLike(file: string, text: string): string {
  return execFileSync(process.execPath, [biome, 'format', `--stdin-file-path=${file}`], { cwd: repoRoot, input: text, encoding: 'utf8' });
}

/** Lines of `file` that differ from `solution`, and all its lines. */
function lineCounts(solution: string, file: string): { changed: number; total: number } {
  const parts = diffLines(readFileSync(solution, 'utf8'), readFileSync(file, 'utf8'));
  const count = (part: { count?: number }) => part.count ?? 0;
  return {
    changed: parts.filter((part) => part.added).reduce((sum, part) => sum + count(part), 0),
    total: parts.filter((part) => !part.removed).reduce((sum, part) => sum + count(part), 0),
  };
}

function copies(all: Fixture[]): string {
  let copied = 0;
  let total = 0;
  for (const fixture of all) {
    if (fixture.patch !== undefined) {
      total += fixture.patch.split('\n').length;
      copied += contextLines(fixture.patch);
      continue;
    }
    for (const file of fixture.files) {
      const own = path.join(fixture.dir, file);
      const solution = path.join(fixture.exercise.solutionDir, file);
      const counts = exists(solution) ? lineCounts(solution, own) : { changed: lineTotal(own), total: lineTotal(own) };
      total += counts.total;
      copied += counts.total - counts.changed;
    }
  }
  return `fixtures/: ${total} lines, ${copied} of them (${((100 * copied) / total).toFixed(1)}%) unchanged copies of solution lines`;
}

/** A patch's context lines: the solution's lines it copies. */
function contextLines(patch: string): number {
  return patch.split('\n').filter((line) => line.startsWith(' ')).length;
}

function lineTotal(file: string): number {
  return readFileSync(file, 'utf8').split('\n').length;
}
