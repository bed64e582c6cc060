/**
 * The kata's own test: `npm run verify [-- <exercise>...] [--verbose]`.
 *
 * Proves, for every exercise, that its tests judge correctly: the solution passes, the stub
 * fails every test with its not-implemented message, each wrong answer in fixtures/ is rejected
 * with the message about that mistake, and each right answer passes. Then the types check, and
 * every script in kata/checks/ runs (the benchmarks' smoke run, the browser test of Vitest UI).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type Exercise, type Fixture, fixtures, selectExercises } from './catalog.ts';
import { exercisesDir, repoRoot, solutionsDir, stateDir } from './paths.ts';
import type { Target } from './vitest/projects.ts';
import { type Outcome, runInLanes, type TargetRun } from './vitest/run-targets.ts';

const usage = 'Usage: npm run verify [-- <exercise>...] [--verbose]';
let options: { verbose: boolean; ids: string[] };
try {
  const { values, positionals } = parseArgs({ options: { verbose: { type: 'boolean', default: false } }, allowPositionals: true });
  options = { verbose: values.verbose, ids: positionals };
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

const started = performance.now();
// Each run lays out its fixtures in a folder of its own: two verify runs at once must not share one.
const workDir = path.join(stateDir, `verify-${process.pid}`);
process.on('exit', () => rmSync(workDir, { recursive: true, force: true }));

/** A fixture runs against a copy of the solution with the fixture's files laid over it. */
function materialise(fixture: Fixture): string {
  const root = path.join(workDir, fixture.exercise.id, fixture.name);
  const folder = path.join(root, fixture.exercise.folder);
  mkdirSync(folder, { recursive: true });
  cpSync(fixture.exercise.solutionDir, folder, { recursive: true });
  cpSync(fixture.dir, folder, { recursive: true });
  return root;
}

const allTests = selected.flatMap((exercise) => exercise.tests);
const fixturesOf = new Map(selected.map((exercise) => [exercise, fixtures(exercise)]));
const fixtureTargets = new Map<Fixture, Target>();
for (const [exercise, list] of fixturesOf) {
  for (const fixture of list) {
    fixtureTargets.set(fixture, {
      name: `${fixture.kind}:${exercise.id}/${fixture.name}`,
      dir: materialise(fixture),
      include: exercise.tests,
      stopOnFailureWith: fixture.rejectedWith,
    });
  }
}
const solutions: Target = { name: 'solutions', dir: solutionsDir, include: allTests };
const stubs: Target = { name: 'stubs', dir: exercisesDir, include: allTests };

let passed = 0;
let failed = 0;
function check(ok: boolean, label: string, detail: string, indent = '  ', ms?: number): void {
  if (ok) passed += 1;
  else failed += 1;
  const took = ms === undefined ? '' : ` (${(ms / 1000).toFixed(1)} s)`;
  console.log(`${indent}${ok ? '✓' : '✗'} ${label}${took}${detail ? `  ${detail}` : ''}`);
}

const wrongTargets = [...fixtureTargets].filter(([fixture]) => fixture.kind === 'wrong').map(([, target]) => target);
const rightTargets = [...fixtureTargets].filter(([fixture]) => fixture.kind === 'right').map(([, target]) => target);
const lanes = (phase: string) => ({ logDir: path.join(workDir, phase), verbose: options.verbose });
// Right answers must pass every test, the timing ones included, so they run with the machine to
// themselves. Stubs and wrong answers only have to fail, each with its own message: two lanes.
progress('running the solutions and the right answers ...');
const alone = await runInLanes([[solutions, ...rightTargets]], lanes('alone'));
progress('running the stubs and the wrong answers, in two lanes ...');
const odd = wrongTargets.filter((_, i) => i % 2 === 1);
const even = wrongTargets.filter((_, i) => i % 2 === 0);
const together = await runInLanes([[stubs, ...odd], even], lanes('together'));
const runs = new Map([...alone, ...together]);
progress('');

for (const exercise of selected) {
  console.log(`${exercise.id} (${exercise.folder})`);
  const own = (run: TargetRun): TargetRun => ({
    ...run,
    outcomes: run.outcomes.filter((outcome) => isOf(exercise, outcome.file)),
    unhandled: run.unhandled.filter((error) => error.file === undefined || isOf(exercise, error.file)),
  });
  judgeSolution(own(runs.get(solutions.name)!));
  judgeStub(own(runs.get(stubs.name)!));
  for (const fixture of fixturesOf.get(exercise)!) judgeFixture(fixture, own(runs.get(fixtureTargets.get(fixture)!.name)!));
}

console.log('types');
for (const [label, project] of typecheckProjects()) {
  const result = spawnSync(process.execPath, [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', project], { encoding: 'utf8' });
  check(result.status === 0, label, result.status === 0 ? '' : `\n${result.stdout}${result.stderr}`);
}

const checksDir = path.join(repoRoot, 'kata/checks');
const extraChecks = readdirSync(checksDir).filter((file) => file.endsWith('.ts')).sort();
if (extraChecks.length > 0 && options.ids.length === 0) {
  console.log('checks');
  for (const file of extraChecks) {
    // A check is a script: exit 0 passed, 77 skipped (it says why), anything else failed.
    const result = spawnSync(process.execPath, [path.join(checksDir, file)], { encoding: 'utf8', cwd: repoRoot });
    const said = `${result.stdout}${result.stderr}`.trim();
    const last = said.split('\n').at(-1) ?? '';
    if (result.status === 77) console.log(`  - ${file}: skipped: ${last}`);
    else check(result.status === 0, file, result.status === 0 ? last : `\n${said}`);
  }
}

console.log(`\nverify took ${((performance.now() - started) / 1000).toFixed(1)} s`);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;

// ---------------------------------------------------------------------------------------------

function firstLine(text = ''): string {
  return text.split('\n')[0]!.slice(0, 160);
}
function timedOut(outcome: Outcome): boolean {
  return outcome.messages.some((m) => /timed out in \d+ ?ms/i.test(m));
}

function unhandledDetail(run: TargetRun): string {
  return run.unhandled.length === 0 ? '' : `; ${run.unhandled.length} unhandled error(s): ${firstLine(run.unhandled[0]!.message)}`;
}

function judgeSolution(run: TargetRun): void {
  const results = run.outcomes;
  const bad = results.filter((o) => o.state === 'failed');
  const skipped = results.filter((o) => o.state === 'skipped').length;
  const ok = results.length > 0 && bad.length === 0 && run.unhandled.length === 0;
  const detail = ok
    ? `${results.length - skipped} tests${skipped ? `, ${skipped} skipped` : ''}`
    : bad.map((o) => `\n      ${o.name}: ${firstLine(o.messages[0])}`).join('') + unhandledDetail(run);
  check(ok, 'the solution passes', detail);
}

function judgeStub(run: TargetRun): void {
  const results = run.outcomes;
  const wrongReason = results.filter((o) => o.state !== 'failed' || !o.messages.some((m) => m.includes('Not implemented yet')));
  const ok = results.length > 0 && wrongReason.length === 0 && run.unhandled.length === 0;
  const detail = ok
    ? `${results.length} of ${results.length} tests fail with "Not implemented yet"`
    : wrongReason.map((o) => `\n      ${o.name}: ${o.state}${o.messages[0] ? `: ${firstLine(o.messages[0])}` : ''}`).join('') + unhandledDetail(run);
  check(ok, 'the stub fails every test as not implemented', detail);
}

function judgeFixture(fixture: Fixture, run: TargetRun): void {
  const results = run.outcomes;
  const label = `${fixture.name}: ${fixture.summary}`;
  if (fixture.kind === 'right') {
    const bad = results.filter((o) => o.state === 'failed');
    const ok = results.length > 0 && bad.length === 0 && run.unhandled.length === 0;
    check(ok, label, ok ? 'accepted' : bad.map((o) => `\n      ${o.name}: ${firstLine(o.messages[0])}`).join('') + unhandledDetail(run), '    ', run.ms);
    return;
  }
  const failures = results.filter((o) => o.state === 'failed');
  const naming = failures.find((o) => o.messages.some((m) => m.includes(fixture.rejectedWith!)));
  const timeouts = failures.filter(timedOut);
  const ok = naming !== undefined && timeouts.length === 0;
  let detail: string;
  if (ok) detail = `rejected by "${naming.name}"`;
  else if (failures.length === 0) detail = `\n      passed every test: nothing rejects this mistake (expected a failure containing "${fixture.rejectedWith}")`;
  else if (timeouts.length > 0) detail = `\n      timed out instead of failing with a message: ${timeouts.map((o) => o.name).join(', ')}`;
  else detail = `\n      rejected, but no message contains "${fixture.rejectedWith}":${failures.map((o) => `\n      ${o.name}: ${firstLine(o.messages[0])}`).join('')}`;
  check(ok, label, detail, '    ', run.ms);
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
