/**
 * `npm run stress [-- --runs N] [--no-hog] [<exercise>...]`
 *
 * Runs the solutions' tests N times in a row with a CPU-bound process beside them, then prints
 * every test that failed with how often, and a closing line `N passed, M failed` counting runs.
 * Flakiness becomes a number anyone can reproduce.
 */
import { spawn } from 'node:child_process';
import { selectExercises } from './catalog.ts';
import { parseCommandLine, wholeNumber } from './cli/args.ts';
import { cleanUpOnExit } from './cleanup.ts';
import { solutionsDir } from './paths.ts';
import { runTargets } from './vitest/run-targets.ts';
import { prepareStateDir } from './writable.ts';

const usage = 'Usage: npm run stress [-- --runs N] [--no-hog] [<exercise>...]';
function fail(message: string): never {
  console.error(`${message}\n${usage}`);
  process.exit(2);
}

let runs = 10;
let hog = true;
let ids: string[] = [];
try {
  const { values, positionals } = parseCommandLine({
    args: process.argv.slice(2),
    options: { runs: { type: 'string' }, 'no-hog': { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  if (values.runs !== undefined) runs = wholeNumber(values.runs, '--runs', { min: 1, max: 1000 });
  hog = !values['no-hog'];
  ids = positionals;
} catch (error) {
  fail((error as Error).message);
}

let exercises;
try {
  exercises = selectExercises(ids);
} catch (error) {
  fail((error as Error).message);
}
prepareStateDir();

// One core kept busy the whole time: the timing tests must hold with a neighbour like this.
const cpuHog = hog ? spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }) : undefined;
const stopHog = () => cpuHog?.kill('SIGKILL');
// On exit, Ctrl-C and SIGTERM alike (kata/cleanup.ts): no hog and no plan file left behind.
cleanUpOnExit(stopHog);

const target = { name: 'solutions', dir: solutionsDir, include: exercises.flatMap((exercise) => exercise.tests) };
const failures = new Map<string, number>();
let passedRuns = 0;
console.log(`stress: ${runs} runs of ${exercises.length} exercises' tests against solutions/${hog ? ', a CPU hog beside them' : ''}`);

for (let run = 1; run <= runs; run += 1) {
  const started = performance.now();
  const result = (await runTargets([target])).get(target.name)!;
  const failed: string[] = [];
  let passed = 0;
  let skipped = 0;
  for (const outcome of result.outcomes) {
    if (outcome.state === 'failed') failed.push(`${outcome.file} > ${outcome.name}`);
    else if (outcome.state === 'skipped') skipped += 1;
    else passed += 1;
  }
  for (const error of result.unhandled) failed.push(`unhandled${error.file ? ` in ${error.file}` : ''}: ${error.message.split('\n')[0]}`);
  for (const name of failed) failures.set(name, (failures.get(name) ?? 0) + 1);
  if (failed.length === 0) passedRuns += 1;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`run ${run}/${runs}: ${failed.length === 0 ? 'ok' : `${failed.length} failed`} (${passed} tests passed${skipped ? `, ${skipped} skipped` : ''}, ${seconds} s)`);
  for (const name of failed) console.log(`  ✗ ${name}`);
}

stopHog();
if (failures.size > 0) {
  console.log('\nfailures by test:');
  for (const [name, count] of [...failures].sort((a, b) => b[1] - a[1])) console.log(`  ${count}/${runs}  ${name}`);
}
console.log(`\n${passedRuns} passed, ${runs - passedRuns} failed`);
process.exitCode = passedRuns === runs ? 0 : 1;
