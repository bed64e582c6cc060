/**
 * The kata's own test: `npm run verify [-- <exercise>...] [--verbose] [--lanes N] [--every-test]`.
 *
 * Proves, for every exercise, that its tests judge correctly: the solution passes, the stub
 * fails every test with its not-implemented message, each wrong answer in fixtures/ is rejected
 * by the test it names, with the message about that mistake, and each right answer passes. Then
 * the types check, and every script in kata/checks/ runs (the README's truth, the benchmarks' smoke
 * run, the kata's own tool tests, the browser test of Vitest UI).
 *
 * Every test but the speed-up ones runs in N lanes at once (by default 2 per CPU core, plus 1):
 * they judge mechanisms, not speed, and pass beside a CPU hog (`npm run stress`). The tests are
 * CPU-bound, not the lanes: more lanes than that only add contention. The speed-up tests run
 * afterwards, alone.
 *
 * A wrong answer runs only the test that should reject it. With --every-test it runs every test
 * of its exercise, none of which may end in Vitest's timeout: slower (minutes more), and it proves
 * that a learner who writes that mistake gets a message from every test, never a hang.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { type Exercise, type Fixture, fixtures, selectExercises } from './catalog.ts';
import { applyFixturePatch } from './fixture-patch.ts';
import { notImplementedText } from './inside/not-implemented.ts';
import { requirementProblems } from './requirements.ts';
import { parseCommandLine, wholeNumber } from './cli/args.ts';
import { cleanUpOnExit } from './cleanup.ts';
import { exercisesDir, repoRoot, solutionsDir, stateDir, verifyLogsDir } from './paths.ts';
import type { Target } from './vitest/projects.ts';
import { type TestResult, passedEveryTest, runInLanes, type TargetRun } from './vitest/run-targets.ts';
import { prepareStateDir } from './writable.ts';

const usage = 'Usage: npm run verify [-- <exercise>...] [--verbose] [--lanes N] [--every-test] [--profile]';
const help = `${usage}
The kata's own test (see the top of kata/verify.ts); without an exercise, all of them.

  --lanes N       how many runs at once, 1 to 64 (default: 2 per core plus 1, here ${2 * availableParallelism() + 1})
  --every-test    each wrong answer through every test of its exercise, none of which may hang
  --profile       each fixture in a Vitest instance of its own, to show the CPU time it costs (slower)
  --verbose       Vitest's own output too
  -h, --help      this help`;
let options: { verbose: boolean; ids: string[]; lanes: number; everyTest: boolean; profile: boolean };
try {
  const { values, positionals } = parseCommandLine({
    args: process.argv.slice(2),
    options: {
      verbose: { type: 'boolean', default: false },
      lanes: { type: 'string', default: String(2 * availableParallelism() + 1) },
      'every-test': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(help);
    process.exit(0);
  }
  const lanes = wholeNumber(values.lanes, '--lanes', { min: 1, max: 64 });
  options = { verbose: values.verbose, ids: positionals, lanes, everyTest: values['every-test'], profile: values.profile };
} catch (error) {
  console.error(`${(error as Error).message}\n${usage}`);
  process.exit(2);
}

let selected: Exercise[];
try {
  selected = selectExercises(options.ids);
} catch (error) {
  console.error(`${(error as Error).message}\n${usage}`);
  process.exit(2);
}
prepareStateDir();

const started = performance.now();
// Each run lays out its fixtures in a folder of its own: two verify runs at once must not share one.
const workDir = path.join(stateDir, `verify-${process.pid}`);
cleanUpOnExit(() => rmSync(workDir, { recursive: true, force: true }));

/** A fixture runs against a copy of the solution with the fixture's files laid over it. */
function materialise(fixture: Fixture): string {
  const root = path.join(workDir, fixture.exercise.id, fixture.name);
  const folder = path.join(root, fixture.exercise.folder);
  mkdirSync(folder, { recursive: true });
  cpSync(fixture.exercise.solutionDir, folder, { recursive: true });
  if (fixture.patch === undefined) cpSync(fixture.dir, folder, { recursive: true });
  else applyFixturePatch(fixture, folder);
  return root;
}

const allTests = selected.flatMap((exercise) => exercise.tests);
// Tests tagged speed-up need the CPU cores to themselves; every other test runs several at a time.
const speedUp = 'speed-up';
const allButSpeedUp = [`!${speedUp}`];
const fixturesOf = new Map(selected.map((exercise) => [exercise, fixtures(exercise)]));
const fixtureTargets = new Map<Fixture, Target>();
/** Fixtures that could not be laid out (a patch that no longer applies), with why: each fails verify. */
const unusable = new Map<Fixture, string>();
for (const [exercise, list] of fixturesOf) {
  for (const fixture of list) {
    let dir: string;
    try {
      dir = materialise(fixture);
    } catch (error) {
      unusable.set(fixture, `cannot be laid over the solution: ${(error as Error).message}`);
      continue;
    }
    const target: Target = { name: `${fixture.kind}:${exercise.id}/${fixture.name}`, dir, include: exercise.tests };
    // A wrong answer has to fail one test, the one it names; a right answer has to pass them all.
    if (fixture.kind === 'wrong' && !options.everyTest) target.testNames = [fixture.rejectedBy!];
    else target.tagsFilter = allButSpeedUp;
    fixtureTargets.set(fixture, target);
  }
}
const solutions: Target = { name: 'solutions', dir: solutionsDir, include: allTests, tagsFilter: allButSpeedUp };
const stubs: Target = { name: 'stubs', dir: exercisesDir, include: allTests };
const mustPass = [solutions, ...[...fixtureTargets].filter(([fixture]) => fixture.kind === 'right').map(([, target]) => target)];

let passed = 0;
let failed = 0;
/** One line per failed check, printed again at the end, where a log cut to its last lines (CI's) still shows it. */
const failures: string[] = [];
/** The heading the checks printed now fall under (an exercise, types, checks), for the failure's line. */
let section = '';
/** Exercises with a requirement not yet tested and broken (or no manifest). */
const untested = new Set<string>();
function check(ok: boolean, label: string, detail: string, indent = '  ', run?: { ms: number; cpuMs?: number }): void {
  if (ok) passed += 1;
  else {
    failed += 1;
    const firstDetail = detail
      .split('\n')
      .find((line) => line.trim() !== '')
      ?.trim();
    failures.push(`${section}: ${label}${firstDetail ? `: ${firstDetail}` : ''}`);
  }
  const cpu = run?.cpuMs === undefined ? '' : `, ${seconds(run.cpuMs / 1000)} CPU`;
  const took = run === undefined ? '' : ` (${seconds(run.ms / 1000)}${cpu})`;
  console.log(`${indent}${ok ? '✓' : '✗'} ${label}${took}${detail ? `  ${detail}` : ''}`);
}

// The scripts in kata/checks/ (README truth, a smoke run of the benchmarks, the tool tests, Vitest UI in a browser)
// judge no timing, so most run beside the lanes; only for the whole kata, not for a few exercises.
// A browser driving Vitest UI is the exception: beside the lanes on two cores its clicks timed out
// (2 runs of 3 beside a CPU hog), so it runs once the tests are done, with the machine to itself.
const afterTheTests = new Set(['ui-browser.ts']);
const checksDir = path.join(repoRoot, 'kata/checks');
const checkFiles =
  options.ids.length > 0
    ? []
    : readdirSync(checksDir)
        .filter((file) => file.endsWith('.ts'))
        .sort();
const runCheck = async (file: string) => ({ file, result: await runScript(path.join(checksDir, file)) });
const checksBeside = checkFiles.filter((file) => !afterTheTests.has(file)).map(runCheck);

const logs = (phase: string) => ({ logDir: path.join(workDir, phase), verbose: options.verbose });
progress(`running every test but the speed-up ones, in ${options.lanes} lanes ...`);
const together = await runInLanes(batches([...fixtureTargets.values()]), { lanes: options.lanes, ...logs('together') }).catch(stopWith);
const timings = [
  `the tests in ${options.lanes} lanes ${seconds(Math.max(...together.laneSeconds))} (each lane: ${together.laneSeconds.map(seconds).join(', ')})`,
];
// The speed-up tests of the solutions and the right answers, one at a time, with the machine to
// themselves. (No wrong answer is rejected by one: each mistake has a test that does not need quiet.)
progress('running the speed-up tests alone ...');
const quietStarted = performance.now();
const quiet = mustPass.flatMap((target): Target[] => {
  const files = filesTagged(together.runs.get(target.name)!, speedUp);
  return files.length === 0 ? [] : [{ ...target, include: files, tagsFilter: [speedUp] }];
});
// One Vitest instance for them all (one each with --profile, which measures a target's CPU time only when it has an instance to itself).
const quietBatches = options.profile ? quiet.map((target) => [target]) : [quiet];
const alone = quiet.length === 0 ? new Map<string, TargetRun>() : (await runInLanes(quietBatches, { lanes: 1, ...logs('alone') }).catch(stopWith)).runs;
timings.push(`the speed-up tests alone ${seconds((performance.now() - quietStarted) / 1000)}`);
const runs = new Map([...together.runs].map(([name, run]) => [name, merged(run, alone.get(name))]));
const checksAfter = checkFiles.filter((file) => afterTheTests.has(file)).map(runCheck);
progress('');

for (const exercise of selected) {
  section = exercise.id;
  console.log(`${exercise.id} (${exercise.folder})`);
  const own = (run: TargetRun): TargetRun => ({
    ...run,
    results: run.results.filter((test) => isOf(exercise, test.file)),
    unhandled: run.unhandled.filter((error) => error.file === undefined || isOf(exercise, error.file)),
  });
  const solutionRun = own(runs.get(solutions.name)!);
  judgeSolution(solutionRun);
  judgeStub(own(runs.get(stubs.name)!));
  const rejections = new Map<Fixture, string>();
  for (const fixture of fixturesOf.get(exercise)!) {
    if (unusable.has(fixture)) {
      check(false, `${fixture.name}: ${fixture.summary}`, `\n      ${unusable.get(fixture)}`, '    ');
      continue;
    }
    const rejection = judgeFixture(fixture, own(runs.get(fixtureTargets.get(fixture)!.name)!));
    if (rejection !== undefined) rejections.set(fixture, rejection);
  }
  judgeRequirements(exercise, solutionRun);
  judgeDistinctness(rejections);
}

section = 'types';
console.log(section);
const typesStarted = performance.now();
for (const [label, project] of typecheckProjects()) {
  const result = spawnSync(process.execPath, [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', project], { encoding: 'utf8' });
  check(result.status === 0, label, result.status === 0 ? '' : `\n${result.stdout}${result.stderr}`);
}
timings.push(`types ${seconds((performance.now() - typesStarted) / 1000)}`);

if (checkFiles.length > 0) {
  section = 'checks';
  console.log(section);
  const checksStarted = performance.now();
  for (const { file, result } of await Promise.all([...checksBeside, ...checksAfter])) {
    // A check is a script: exit 0 passed, 77 skipped (it says why), anything else failed.
    const last = result.said.split('\n').at(-1) ?? '';
    if (result.code === 77) console.log(`  - ${file}: skipped: ${last}`);
    else check(result.code === 0, file, result.code === 0 ? last : `\n${result.said}`, '  ', result);
  }
  timings.push(`the checks after the tests ${seconds((performance.now() - checksStarted) / 1000)} more`);
}

if (options.profile) timings.push(`CPU time ${cpuByKind()}`);
const requirementCount = selected.reduce((sum, exercise) => sum + (exercise.manifest?.requirements.length ?? 0), 0);
console.log(
  `\nrequirements: ${requirementCount}, ${untested.size === 0 ? 'each tested and broken' : `those of ${[...untested].join(', ')} not yet all tested and broken`}`,
);
console.log(`verify took ${seconds((performance.now() - started) / 1000)}: ${timings.join('; ')}`);
// A failure may come from outside any test (a test process that crashed, as Node's own fatal
// errors do): keep the lanes' logs, which hold what it printed, until the next verify.
rmSync(verifyLogsDir, { recursive: true, force: true });
if (failed > 0) {
  keepLaneLogs();
  console.log(`failed checks:\n${failures.map((line) => `  ✗ ${line}`).join('\n')}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;

// ---------------------------------------------------------------------------------------------

/**
 * Batches for the lanes, the longest first: the solutions and the stubs each alone, the fixtures
 * in fours (one by one with --profile, so that each shows its own CPU time, and with --every-test,
 * where a wrong answer may sit out a deadline in every test of its exercise: four of those
 * overran a lane's batch limit). A batch shares one Vitest instance, so no two of its fixtures
 * run the same test file.
 */
function batches(fixtures: Target[]): Target[][] {
  const size = options.profile || options.everyTest ? 1 : 4;
  // Rough guesses in seconds: a test file takes ~3 s on a right answer, ~1 s on a stub (its tests
  // fail at once); a wrong answer runs a single test.
  const cost = (target: Target) => (target.testNames ? 1.5 : target.include.length * (target === stubs ? 1 : 3));
  const made = [solutions, stubs].map((target) => ({ targets: [target], cost: cost(target), full: true }));
  for (const target of [...fixtures].sort((a, b) => cost(b) - cost(a))) {
    let batch = made.find((b) => !b.full && b.targets.every((other) => !other.include.some((file) => target.include.includes(file))));
    if (!batch) made.push((batch = { targets: [], cost: 0, full: false }));
    batch.targets.push(target);
    batch.cost += cost(target);
    batch.full = batch.targets.length === size;
  }
  return made.sort((a, b) => b.cost - a.cost).map((batch) => batch.targets);
}

/** The test files in which the run saw a test with `tag`. */
function filesTagged(run: TargetRun, tag: string): string[] {
  return [...new Set(run.results.filter((test) => test.tags.includes(tag)).map((test) => test.file))];
}

/** A target's results from both phases: each test as it ran in the phase that did not filter it out. */
function merged(first: TargetRun, second: TargetRun | undefined): TargetRun {
  if (second === undefined) return first;
  const key = (test: TestResult) => `${test.file}\0${test.name}`;
  const ran = new Map(second.results.filter((test) => test.state !== 'skipped').map((test) => [key(test), test]));
  const firstKeys = new Set(first.results.map(key));
  return {
    ...first,
    results: [...first.results.map((test) => ran.get(key(test)) ?? test), ...[...ran.values()].filter((test) => !firstKeys.has(key(test)))],
    unhandled: [...first.unhandled, ...second.unhandled],
    ms: first.ms + second.ms,
    cpuMs: first.cpuMs === undefined || second.cpuMs === undefined ? undefined : first.cpuMs + second.cpuMs,
  };
}

/** Runs a Node script from the repo root; says how it ended, what it printed and how long it took. */
function runScript(file: string): Promise<{ code: number | null; said: string; ms: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, [file], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  cleanUpOnExit(() => child.kill('SIGTERM'));
  let said = '';
  child.stdout.on('data', (chunk: Buffer) => (said += chunk));
  child.stderr.on('data', (chunk: Buffer) => (said += chunk));
  return new Promise((resolve) => {
    child.on('error', (error) => resolve({ code: null, said: error.message, ms: performance.now() - started }));
    child.on('close', (code) => resolve({ code, said: said.trim(), ms: performance.now() - started }));
  });
}

/** Keeps the lanes' logs of this run in .kata/verify-logs, until the next verify, and says where. */
function keepLaneLogs(): void {
  rmSync(verifyLogsDir, { recursive: true, force: true });
  for (const phase of readdirSync(workDir).filter((name) => name === 'together' || name === 'alone')) {
    cpSync(path.join(workDir, phase), path.join(verifyLogsDir, phase), { recursive: true });
  }
  console.log(`the lanes' logs: ${path.relative(process.cwd(), verifyLogsDir)}`);
}

/** A lane that crashed or overran: its own message, no stack trace, exit code 1. */
function stopWith(error: Error): never {
  progress('');
  console.error(`verify stopped: ${error.message}`);
  keepLaneLogs();
  process.exit(1);
}

/** With --profile, the tests' CPU time, both phases together, by what ran: where verify's time goes. */
function cpuByKind(): string {
  const kindOf = (name: string) => (name.startsWith('wrong:') ? 'wrong answers' : name.startsWith('right:') ? 'right answers' : name);
  const sums = new Map<string, number>();
  for (const [name, run] of runs) {
    if (run.cpuMs === undefined) return 'not measured here (no /proc)';
    sums.set(kindOf(name), (sums.get(kindOf(name)) ?? 0) + run.cpuMs);
  }
  return [...sums].map(([kind, ms]) => `${kind} ${seconds(ms / 1000)}`).join(', ');
}

function seconds(value: number): string {
  return `${value.toFixed(1)} s`;
}

function firstLine(text = ''): string {
  return text.split('\n')[0]!.slice(0, 160);
}
function timedOut(test: TestResult): boolean {
  return test.messages.some((m) => /timed out in \d+ ?ms/i.test(m));
}

function unhandledDetail(run: TargetRun): string {
  return run.unhandled.length === 0 ? '' : `; ${run.unhandled.length} unhandled error(s): ${run.unhandled[0]!.message.split('\n')[0]!.slice(0, 400)}`;
}

function judgeSolution(run: TargetRun): void {
  const results = run.results;
  const bad = results.filter((o) => o.state === 'failed');
  const skipped = results.filter((o) => o.state === 'skipped').length;
  const ok = passedEveryTest(run);
  const detail = ok
    ? `${results.length - skipped} tests${skipped ? `, ${skipped} skipped` : ''}`
    : bad.map((o) => `\n      ${o.name}: ${firstLine(o.messages[0])}`).join('') + unhandledDetail(run);
  check(ok, 'the solution passes', detail, '  ', run);
}

function judgeStub(run: TargetRun): void {
  const results = run.results;
  const wrongReason = results.filter((o) => o.state !== 'failed' || !o.messages.some((m) => m.includes(notImplementedText)));
  const ok = results.length > 0 && wrongReason.length === 0 && run.unhandled.length === 0;
  const detail = ok
    ? `${results.length} of ${results.length} tests fail with "${notImplementedText}"`
    : wrongReason.map((o) => `\n      ${o.name}: ${o.state}${o.messages[0] ? `: ${firstLine(o.messages[0])}` : ''}`).join('') + unhandledDetail(run);
  check(ok, 'the stub fails every test as not implemented', detail, '  ', run);
}

/** Judges the fixture; for a wrong answer rejected as it should be, returns the rejecting message. */
function judgeFixture(fixture: Fixture, run: TargetRun): string | undefined {
  const results = run.results;
  const label = `${fixture.name}: ${fixture.summary}`;
  if (fixture.kind === 'right') {
    const bad = results.filter((o) => o.state === 'failed');
    const ok = passedEveryTest(run);
    check(ok, label, ok ? 'accepted' : bad.map((o) => `\n      ${o.name}: ${firstLine(o.messages[0])}`).join('') + unhandledDetail(run), '    ', run);
    return undefined;
  }
  const test = results.find((o) => o.name === fixture.rejectedBy);
  const phrase = `"${fixture.rejectedWith}"`;
  let problem = '';
  // A test file whose process ended before its tests were collected (the watchdog ends one that
  // loops at import) names no test at all: say why, rather than blame the "// Rejected by:" line.
  if (test === undefined && results.length === 0 && run.unhandled.length > 0)
    problem = `"${fixture.rejectedBy}" never ran: ${firstLine(run.unhandled[0]!.message)}`;
  else if (test === undefined) problem = `no test is named "${fixture.rejectedBy}": correct the fixture's "// Rejected by:" line`;
  else if (test.state !== 'failed') problem = `"${test.name}" ${test.state}: it does not reject this mistake (expected a failure containing ${phrase})`;
  else if (timedOut(test)) problem = `"${test.name}" timed out instead of failing with a message: ${firstLine(test.messages[0])}`;
  else if (!test.messages.some((m) => m.includes(fixture.rejectedWith!)))
    problem = `"${test.name}" failed, but not with ${phrase}: ${firstLine(test.messages[0])}`;
  const hung = results.filter((o) => o !== test && timedOut(o)).map((o) => `"${o.name}"`);
  if (!problem && hung.length > 0) problem = `rejected, but ${hung.join(', ')} ended in Vitest's timeout instead of failing with a message`;
  check(problem === '', label, problem ? `\n      ${problem}` : `rejected by "${test!.name}"`, '    ', run);
  return problem === '' ? test!.messages.find((m) => m.includes(fixture.rejectedWith!)) : undefined;
}

/**
 * Two mistakes that break different requirements must not get the same message: the learner
 * would be told about a mistake they did not make. Messages count as the same when only their
 * measured numbers differ.
 */
function judgeDistinctness(rejections: Map<Fixture, string>): void {
  const template = (message: string) => message.replace(/\d+(?:\.\d+)?/g, '#');
  const same: string[] = [];
  const fixtures = [...rejections.keys()];
  fixtures.forEach((a, index) => {
    for (const b of fixtures.slice(index + 1)) {
      if (a.breaks !== b.breaks && template(rejections.get(a)!) === template(rejections.get(b)!)) {
        same.push(`${a.name} (breaks ${a.breaks}) and ${b.name} (breaks ${b.breaks}) are both told: ${firstLine(rejections.get(a))}`);
      }
    }
  });
  check(same.length === 0, 'each mistake gets a message of its own', same.map((line) => `\n      ${line}`).join(''));
}

function judgeRequirements(exercise: Exercise, solutionRun: TargetRun): void {
  const problems = requirementProblems(
    exercise,
    fixturesOf.get(exercise)!,
    solutionRun.results.map((test) => test.name),
  );
  if (problems.length > 0) untested.add(exercise.id);
  const count = exercise.manifest?.requirements.length ?? 0;
  check(problems.length === 0, `requirements: ${count}, each tested and broken`, problems.map((problem) => `\n      ${problem}`).join(''));
}

/** Whether `file` (relative to the repo root) is one of this exercise's test files. */
function isOf(exercise: Exercise, file: string): boolean {
  return exercise.tests.includes(file.split(path.sep).join('/'));
}

function typecheckProjects(): Array<[string, string]> {
  const projects: Array<[string, string]> = [['exercises, solutions, kata and bench type-check', path.join(repoRoot, 'tsconfig.json')]];
  if (fixtureTargets.size > 0) {
    // Fixtures are checked where they run: laid over their solution, so their imports resolve.
    const config = path.join(workDir, 'tsconfig.json');
    writeFileSync(config, JSON.stringify({ extends: path.join(repoRoot, 'tsconfig.json'), include: ['./**/*.ts'], exclude: [] }, null, 2));
    projects.push(['the fixtures type-check', config]);
  }
  return projects;
}

function progress(text: string): void {
  if (process.stdout.isTTY) process.stdout.write(`\r\x1b[2K${text}`);
}
