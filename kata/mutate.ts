/**
 * Mutation testing, the maintainer's "would the tests notice?": `npm run mutate -- <exercise>...`.
 *
 * StrykerJS changes the solution's code one small way at a time (a mutant: `<` for `<=`, a
 * removed call, `true` for a condition) and runs the exercise's tests against each; a mutant
 * the tests pass is a change they would not notice. It ends with
 * `mutation score: NN.N% (K killed, S survived, E equivalent)`, where the equivalents are the
 * surviving mutants listed, each with its reason, in `<exercise>/.meta/equivalent-mutants.json`.
 *
 * Workers and children load the solution's files themselves, outside Vitest: the setup file hands
 * them the active mutant through `__STRYKER_ACTIVE_MUTANT__`, which Stryker's instrumented code
 * reads, and coverage analysis is off (it cannot see into them), so every mutant runs every test
 * and none counts as killed unless a test failed on it. Speed-up tests do not run: they judge
 * timing, and every mistake has a deterministic test too.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Exercise, selectExercises } from './catalog.ts';
import { parseCommandLine, wholeNumber } from './cli/args.ts';
import { repoRoot, stateDir } from './paths.ts';
import { mutateEnv } from './vitest/plan.ts';
import { prepareStateDir } from './writable.ts';

const usage = 'Usage: npm run mutate -- <exercise>... [--concurrency N]';
let exercises: Exercise[];
let concurrency: number;
try {
  const { values, positionals } = parseCommandLine({
    args: process.argv.slice(2),
    options: { concurrency: { type: 'string', default: '2' }, help: { type: 'boolean', short: 'h', default: false } },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(`${usage}\nMutation testing of each exercise's solution (see the top of kata/mutate.ts). Slow: minutes per exercise.`);
    process.exit(0);
  }
  if (positionals.length === 0) throw new Error('Name at least one exercise.');
  exercises = selectExercises(positionals);
  concurrency = wholeNumber(values.concurrency, '--concurrency', { min: 1, max: 16 });
} catch (error) {
  console.error(`${(error as Error).message}\n${usage}`);
  process.exit(2);
}
prepareStateDir();
const { Stryker } = await installStryker();

/** What this script uses of StrykerJS's API (it is installed on first use: see installStryker). */
interface MutantResult {
  fileName: string;
  location: { start: { line: number; column: number } };
  status: 'Killed' | 'Survived' | 'NoCoverage' | 'Timeout' | 'RuntimeError' | 'CompileError' | 'Ignored' | 'Pending';
  mutatorName: string;
  replacement?: string;
}
type StrykerClass = new (options: Record<string, unknown>) => { runMutationTest(): Promise<MutantResult[]> };

interface Equivalent {
  /** `file:line:column` of the mutant in the solution, and its mutator, e.g. `ConditionalExpression`. */
  at: string;
  mutator: string;
  reason: string;
}

for (const exercise of exercises) {
  const reportFile = path.join(stateDir, 'mutation', `${exercise.id}.json`);
  mkdirSync(path.dirname(reportFile), { recursive: true });
  Object.assign(process.env, mutateEnv(exercise.id));
  const stryker = new Stryker({
    testRunner: 'vitest',
    plugins: ['@stryker-mutator/vitest-runner'],
    // Test processes, as vitest.config.ts has them (Stryker's default is worker threads): command's
    // tests chdir into a sandbox, which a worker thread cannot do.
    vitest: { configFile: 'vitest.config.ts', related: false, pool: 'forks' },
    // What the learner writes (the manifest's files to edit), not the given helpers beside it.
    mutate: (exercise.manifest?.files.edit ?? ['**/*.ts']).map((file) => `solutions/${exercise.folder}/${file}`),
    coverageAnalysis: 'off',
    concurrency,
    timeoutMS: 30_000,
    reporters: ['json', 'progress'],
    jsonReporter: { fileName: path.relative(repoRoot, reportFile) },
    tempDirName: path.relative(repoRoot, path.join(stateDir, 'stryker-tmp')),
    ignorePatterns: ['/.kata', '/fixtures', '/bench', '/docs', '/.ci'],
    cleanTempDir: 'always',
    // Every mutant is static here on purpose (see the setup file): no advice about it.
    warnings: { slow: false },
    // Stryker rewrites tsconfig.json with TypeScript's JavaScript API, which TypeScript 7 does not
    // have; Node runs the files as they are, so no tsconfig needs rewriting.
    tsconfigFile: 'no-tsconfig-to-rewrite.json',
  });
  let results: MutantResult[];
  try {
    results = await stryker.runMutationTest();
  } catch (error) {
    // Stryker has logged what went wrong (a test failing on the unmutated solution, say).
    console.error(`${exercise.id}: mutation testing stopped: ${(error as Error).message}`);
    process.exitCode = 1;
    continue;
  }
  const equivalents = readEquivalents(exercise);
  const at = (result: (typeof results)[number]) => `${path.relative(repoRoot, result.fileName)}:${result.location.start.line}:${result.location.start.column}`;
  const survived = results.filter((result) => result.status === 'Survived' || result.status === 'NoCoverage');
  const equivalent = survived.filter((result) => equivalents.some((e) => e.at === at(result) && e.mutator === result.mutatorName));
  const killed = results.filter((result) => result.status === 'Killed' || result.status === 'Timeout').length;
  const left = survived.filter((result) => !equivalent.includes(result));
  const errors = results.filter((result) => result.status === 'RuntimeError' || result.status === 'CompileError').length;
  for (const result of left) console.log(`survived  ${at(result)}  ${result.mutatorName}: ${result.replacement ?? ''}`.slice(0, 200));
  const judged = killed + left.length;
  const score = judged === 0 ? 100 : (100 * killed) / judged;
  console.log(
    `${exercise.id}: mutation score: ${score.toFixed(1)}% (${killed} killed, ${left.length} survived, ${equivalent.length} equivalent${errors ? `, ${errors} did not compile or run` : ''})`,
  );
  console.log(`  the report: ${path.relative(process.cwd(), reportFile)}`);
}

/** The exercise's surviving mutants that change nothing a learner could observe, each with why. */
function readEquivalents(exercise: Exercise): Equivalent[] {
  const file = path.join(exercise.dir, '.meta', 'equivalent-mutants.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Equivalent[];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(
      `${path.relative(process.cwd(), file)}: ${(error as Error).message}; expected [{ "at": "file:line:column", "mutator": "...", "reason": "..." }]`,
    );
  }
}

/**
 * StrykerJS is the maintainer's tool, not the learner's: it is installed on first use into
 * .kata/tools/ (not package.json, so `npm install` stays lean, and on Node 22.18: one of its
 * dependencies asks for 22.22), without its peer Vitest, so its runner finds the project's own.
 */
async function installStryker(): Promise<{ Stryker: StrykerClass }> {
  const version = '10.1.1';
  const dir = path.join(stateDir, 'tools', `stryker-${version}`);
  const entry = path.join(dir, 'node_modules', '@stryker-mutator', 'core', 'dist', 'src', 'index.js');
  if (!existsSync(entry)) {
    console.log(`Installing StrykerJS ${version} into ${path.relative(process.cwd(), dir)} (once) ...`);
    mkdirSync(dir, { recursive: true });
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const args = [
      'install',
      '--prefix',
      dir,
      '--no-save',
      '--no-audit',
      '--no-fund',
      '--engine-strict=false',
      '--legacy-peer-deps',
      `@stryker-mutator/core@${version}`,
      `@stryker-mutator/vitest-runner@${version}`,
    ];
    const install = spawnSync(npm, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    if (install.status !== 0 || !existsSync(entry)) {
      console.error(`Could not install StrykerJS (npm ${args.join(' ')} ended with ${install.status ?? install.error?.message}).`);
      process.exit(1);
    }
  }
  return import(pathToFileURL(entry).href);
}
