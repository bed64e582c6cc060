/**
 * `npm run stress [-- --runs N] [--no-hog] [--verify] [<exercise>...]`
 *
 * Runs the solutions' tests N times in a row with a CPU-bound process beside them (or, with
 * --verify, the whole of `npm run verify`: solutions, stubs, every fixture), then prints every
 * test that failed with how often, the distribution of every bound the tests compare a figure
 * against, and a closing line `N passed, M failed` counting runs. Flakiness becomes a number
 * anyone can reproduce, and the table shows how close right and wrong answers come to each bound.
 */
import { spawn } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type Exercise, selectExercises } from './catalog.ts';
import { parseCommandLine, wholeNumber } from './cli/args.ts';
import { cleanUpOnExit } from './cleanup.ts';
import { repoRoot, solutionsDir, stateDir, verifyLogsDir } from './paths.ts';
import { deadline, type Group, minutesFromEnv, spawnGroup } from './process-group.ts';
import { readMeasures, thresholdRows, thresholdTable } from './thresholds.ts';
import { runTargets } from './vitest/run-targets.ts';
import { prepareStateDir } from './writable.ts';

const usage = 'Usage: npm run stress [-- --runs N] [--no-hog] [--verify] [<exercise>...]';
function fail(message: string): never {
  console.error(`${message}\n${usage}`);
  process.exit(2);
}

let runs = 10;
let hog = true;
let verify = false;
let ids: string[] = [];
try {
  const { values, positionals } = parseCommandLine({
    args: process.argv.slice(2),
    options: {
      runs: { type: 'string' },
      'no-hog': { type: 'boolean', default: false },
      verify: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  if (values.runs !== undefined) runs = wholeNumber(values.runs, '--runs', { min: 1, max: 1000 });
  hog = !values['no-hog'];
  verify = values.verify;
  ids = positionals;
} catch (error) {
  fail((error as Error).message);
}

let exercises: Exercise[];
try {
  exercises = selectExercises(ids);
} catch (error) {
  fail((error as Error).message);
}
prepareStateDir();

// Every run's log and measures, kept for a look afterwards; the previous stress run's are replaced.
const outDir = path.join(stateDir, 'stress');
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

// One core kept busy the whole time: the timing tests must hold with a neighbour like this.
const cpuHog = hog ? spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }) : undefined;
let verifyRun: Group | undefined;
const stopChildren = () => {
  cpuHog?.kill('SIGKILL');
  // SIGTERM: verify stops its own lanes and removes its files on it (kata/cleanup.ts).
  verifyRun?.kill('SIGTERM');
};
// On exit, Ctrl-C and SIGTERM alike (kata/cleanup.ts): no hog, no verify and no plan file left behind.
cleanUpOnExit(stopChildren);

const failures = new Map<string, number>();
const measureFiles: string[] = [];
let passedRuns = 0;
const what = verify ? `npm run verify${ids.length ? ` -- ${ids.join(' ')}` : ''}` : `${exercises.length} exercises' tests against solutions/`;
console.log(`stress: ${runs} runs of ${what} on Node ${process.version}${hog ? ', a CPU hog beside them' : ''}`);

for (let run = 1; run <= runs; run += 1) {
  const started = performance.now();
  const measures = path.join(outDir, `measures-${run}.jsonl`);
  measureFiles.push(measures);
  process.env.KATA_MEASURES = measures;
  const { failed, said, summary } = verify ? await verifyOnce(run) : await solutionsOnce();
  for (const name of failed) failures.set(name, (failures.get(name) ?? 0) + 1);
  if (failed.length === 0) passedRuns += 1;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`run ${run}/${runs}: ${failed.length === 0 ? 'ok' : `${failed.length} failed`} (${summary}, ${seconds} s)`);
  for (const line of said ?? failed) console.log(`  ✗ ${line}`);
}

stopChildren();
if (failures.size > 0) {
  console.log('\nfailures by test:');
  for (const [name, count] of [...failures].sort((a, b) => b[1] - a[1])) console.log(`  ${count}/${runs}  ${name}`);
}
const table = thresholdTable(thresholdRows(readMeasures(measureFiles)));
writeFileSync(path.join(outDir, 'thresholds.md'), `${table}\n`);
console.log(`\nbounds, closest first (also in ${path.relative(repoRoot, path.join(outDir, 'thresholds.md'))}):\n${table}`);
console.log(`\n${passedRuns} passed, ${runs - passedRuns} failed`);
process.exitCode = passedRuns === runs ? 0 : 1;

/** One run of the solutions' tests, in this process. */
async function solutionsOnce(): Promise<{ failed: string[]; said?: string[]; summary: string }> {
  const target = { name: 'solutions', dir: solutionsDir, include: exercises.flatMap((exercise) => exercise.tests) };
  const result = (await runTargets([target])).get(target.name)!;
  const failed: string[] = [];
  /** Each failure with the first line of its message, for the run's own lines. */
  const said: string[] = [];
  let passed = 0;
  let skipped = 0;
  for (const test of result.results) {
    if (test.state === 'failed') {
      failed.push(`${test.file} > ${test.name}`);
      said.push(`${test.file} > ${test.name}\n      ${(test.messages[0] ?? '').split('\n')[0]!.slice(0, 400)}`);
    } else if (test.state === 'skipped') skipped += 1;
    else passed += 1;
  }
  for (const error of result.unhandled) failed.push(`unhandled${error.file ? ` in ${error.file}` : ''}: ${error.message.split('\n')[0]}`);
  return { failed, said, summary: `${passed} tests passed${skipped ? `, ${skipped} skipped` : ''}` };
}

/** One whole `npm run verify`, as a child process; its output goes to a log, and the failed checks it lists at its end are the failures. */
async function verifyOnce(run: number): Promise<{ failed: string[]; said?: string[]; summary: string }> {
  const logFile = path.join(outDir, `verify-${run}.log`);
  const log = createWriteStream(logFile);
  verifyRun = spawnGroup(process.execPath, [path.join(repoRoot, 'kata/verify.ts'), ...ids], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  const { child } = verifyRun;
  // Verify takes minutes; one that runs far longer is stuck, and is stopped with all it started.
  const limitMinutes = minutesFromEnv('KATA_VERIFY_MINUTES', 30);
  const limit = deadline(limitMinutes * 60_000, () => verifyRun!.kill('SIGKILL'));
  let output = '';
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.on('data', (chunk: Buffer) => {
      output += chunk;
      log.write(chunk);
    });
  }
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  limit.cancel();
  log.end();
  if (limit.expired)
    return {
      failed: [`verify did not finish in ${limitMinutes} minutes: stopped, with every process it started (see ${path.relative(repoRoot, logFile)})`],
      summary: 'verify: stopped',
    };
  const closing = /^(\d+) passed, (\d+) failed$/m.exec(output);
  // Verify lists its failed checks again at its end, each with the exercise it belongs to.
  const recap = /^failed checks:\n((?: {2}✗ .*\n)+)/m.exec(output);
  const failed = (recap?.[1] ?? '')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.slice('  ✗ '.length, '  ✗ '.length + 200));
  if (failed.length === 0 && (code !== 0 || !closing))
    failed.push(`verify ended with code ${code} without listing its failed checks (see ${path.relative(repoRoot, logFile)})`);
  // The lanes' logs that a failing verify keeps hold what its test processes printed: the next run would replace them.
  if (failed.length > 0 && existsSync(verifyLogsDir)) cpSync(verifyLogsDir, path.join(outDir, `verify-${run}-logs`), { recursive: true });
  return { failed, summary: closing ? `verify: ${closing[0]}` : `verify: exit ${code}` };
}
