import { mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createVitest, type TestModule, type TestSpecification } from 'vitest/node';
import { cleanUpOnExit } from '../cleanup.ts';
import { type Deadline, deadline, type Group, minutesFromEnv, spawnGroup } from '../process-group.ts';
import { repoRoot, stateDir } from '../paths.ts';
import { planEnv } from './plan.ts';
import type { Target } from './projects.ts';

/** One test's result, or a test file that failed to load (state 'failed', name ending in "(file)"). */
export interface TestResult {
  file: string;
  name: string;
  state: 'passed' | 'failed' | 'skipped' | 'pending';
  messages: string[];
  tags: string[];
}

export interface TargetRun {
  target: Target;
  results: TestResult[];
  /** Errors outside any test (an unhandled rejection, a crash in a worker), with the test file if known. */
  unhandled: Array<{ message: string; file?: string }>;
  ms: number;
  /**
   * CPU time of the run, its test processes and all they started included, Vitest's start-up too;
   * measured only for a target that had a Vitest instance to itself, on Linux.
   */
  cpuMs?: number;
}

/** All green, as a learner sees it: tests ran, none failed, and nothing failed outside them. */
export function passedEveryTest(run: Pick<TargetRun, 'results' | 'unhandled'>): boolean {
  return run.results.length > 0 && run.results.every((test) => test.state !== 'failed') && run.unhandled.length === 0;
}

/**
 * This process's CPU time in ms with that of the children it has reaped, which holds the test
 * processes Vitest forked and, through them, every thread and child a test started: from
 * /proc/self/stat (fields 14-17, in clock ticks of 10 ms). Undefined where there is no /proc.
 */
function treeCpuMs(): number | undefined {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
    return fields.slice(11, 15).reduce((sum, ticks) => sum + Number(ticks), 0) * 10;
  } catch {
    return undefined;
  }
}

/** The specification, limited to the tests the target names or the tags it filters by. */
function narrowed(spec: TestSpecification, target: Target): TestSpecification {
  if (!target.testNames && !target.tagsFilter) return spec;
  return spec.project.createSpecification(spec.moduleId, { testNames: target.testNames, testTagsFilter: target.tagsFilter });
}

function testResultsOf(modules: TestModule[]): TestResult[] {
  return modules.flatMap((module) => {
    const file = path.relative(repoRoot, module.moduleId);
    const crashed = module
      .errors()
      .map((error): TestResult => ({ file, name: `${path.basename(file)} (file)`, state: 'failed', messages: [error.message], tags: [] }));
    const tests = [...module.children.allTests()].map((test): TestResult => {
      const result = test.result();
      return { file, name: test.fullName, state: result.state, messages: (result.errors ?? []).map((error) => error.message), tags: [...test.tags] };
    });
    return [...crashed, ...tests];
  });
}

/**
 * An error's message with its causes on the same line: Vitest's own errors say what happened in
 * their cause ("[vitest-pool]: Worker forks emitted error." wraps "Worker exited unexpectedly ...").
 */
function withCauses(error: unknown): string {
  const parts: string[] = [];
  for (let at = error, depth = 0; at !== undefined && depth < 4; at = (at as { cause?: unknown }).cause, depth += 1) {
    parts.push((at as { message?: string })?.message ?? String(at));
  }
  return parts.join(' (cause: ') + ')'.repeat(parts.length - 1);
}

/**
 * Groups targets so that no two in a group run the same test file: within one Vitest instance,
 * a second run of a test file is served the module code of the first run's target (vitest 5.1,
 * forks pool), so such targets must not share an instance. Targets of different exercises can.
 */
function intoRounds(targets: Target[]): Target[][] {
  const rounds: Array<{ targets: Target[]; files: Set<string> }> = [];
  for (const target of targets) {
    let round = rounds.find((r) => target.include.every((file) => !r.files.has(file)));
    if (!round) rounds.push((round = { targets: [], files: new Set() }));
    round.targets.push(target);
    for (const file of target.include) round.files.add(file);
  }
  return rounds.map((round) => round.targets);
}

/**
 * Runs the suite against each target in turn, in this process (one test file at a time, as
 * always), and keeps each target's results apart, unhandled errors included: Vitest reports
 * those per run, not per project, so every target gets a run of its own.
 */
export async function runTargets(targets: Target[], { verbose = false }: { verbose?: boolean } = {}): Promise<Map<string, TargetRun>> {
  mkdirSync(stateDir, { recursive: true });
  process.env.CI ??= 'true';
  const runs = new Map<string, TargetRun>();
  const plan = path.join(stateDir, `plan-${process.pid}.json`);
  const forget = cleanUpOnExit(() => rmSync(plan, { force: true }));
  for (const round of intoRounds(targets)) {
    Object.assign(process.env, planEnv(plan, round));
    const roundCpu = treeCpuMs();
    const vitest = await createVitest({
      config: path.join(repoRoot, 'vitest.config.ts'),
      watch: false,
      silent: !verbose,
      reporters: verbose ? ['default'] : [],
    });
    try {
      // Reporters are initialised by start() or standalone(); runTestSpecifications alone leaves
      // the default reporter without its context, and it crashes at the run's end.
      if (verbose) await vitest.standalone();
      const specifications = await vitest.globTestSpecifications();
      for (const target of round) {
        const started = performance.now();
        const result = await vitest.runTestSpecifications(
          specifications.filter((spec) => spec.project.name === target.name).map((spec) => narrowed(spec, target)),
        );
        runs.set(target.name, {
          target,
          // Vitest lists every module it has run so far in this instance: keep this target's own.
          results: testResultsOf(result.testModules.filter((module) => module.project.name === target.name)),
          unhandled: result.unhandledErrors.map((error) => {
            const { VITEST_TEST_PATH } = error as { VITEST_TEST_PATH?: string };
            return { message: withCauses(error), file: VITEST_TEST_PATH && path.relative(repoRoot, VITEST_TEST_PATH) };
          }),
          ms: performance.now() - started,
        });
      }
    } finally {
      await vitest.close();
      rmSync(plan, { force: true });
      // Once the instance is closed its test processes have all been reaped, and their CPU time counted.
      if (round.length === 1 && roundCpu !== undefined) runs.get(round[0]!.name)!.cpuMs = treeCpuMs()! - roundCpu;
    }
  }
  forget();
  return runs;
}

const thisFile = fileURLToPath(import.meta.url);

/**
 * Runs batches of targets in `lanes` child processes at once (each runs this file), handing the
 * next batch to whichever lane is free, so that the lanes end together however long each batch
 * turns out to be. Pass the longest batches first. A lane's output (the tests' children print to
 * the terminal directly) goes to `logDir/lane-N.log` unless `verbose`; its tail is shown if the
 * lane crashes, and then the other lanes are stopped.
 */
export async function runInLanes(
  batches: Target[][],
  { lanes, logDir, verbose = false }: { lanes: number; logDir: string; verbose?: boolean },
): Promise<{ runs: Map<string, TargetRun>; laneSeconds: number[] }> {
  mkdirSync(logDir, { recursive: true });
  const started = performance.now();
  const queue = [...batches];
  const runs = new Map<string, TargetRun>();
  const laneSeconds: number[] = [];
  const groups: Group[] = [];
  // Lanes end with this process, also when a SIGTERM reached it alone; SIGTERM lets each remove its plan file.
  const forget = cleanUpOnExit(() => {
    for (const group of groups) group.kill('SIGTERM');
  });
  // The longest batch is verify's solutions, every exercise's tests: under 5 minutes on 2 idle cores,
  // past 5 beside a CPU hog once Part H was in (stress --verify at f45de29, 2 runs of 2). One that
  // runs for 12 is stuck somewhere no test's own deadline reaches, and is stopped with its lane.
  const batchMinutes = minutesFromEnv('KATA_BATCH_MINUTES', 12);
  const lane = async (index: number) => {
    const logFile = path.join(logDir, `lane-${index}.log`);
    const log = verbose ? 'inherit' : openSync(logFile, 'w');
    const group = spawnGroup(process.execPath, [thisFile], { stdio: ['ignore', log, log, 'ipc'] });
    const { child } = group;
    groups.push(group);
    let batch: Target[] | undefined;
    let limit: Deadline | undefined;
    const next = () => {
      limit?.cancel();
      batch = queue.shift();
      if (!batch) return child.disconnect();
      child.send({ batch, verbose });
      limit = deadline(batchMinutes * 60_000, () => group.kill('SIGKILL'));
    };
    child.on('message', (done: Array<[string, TargetRun]>) => {
      for (const [name, run] of done) runs.set(name, run);
      next();
    });
    next();
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    limit?.cancel();
    if (code !== 0 || batch) {
      // A test's child may print one line of a megabyte: each line of the tail is cut short.
      const cut = (line: string) => (line.length <= 300 ? line : `${line.slice(0, 300)}… (${line.length - 300} characters more)`);
      const tail = verbose ? '' : readFileSync(logFile, 'utf8').split('\n').slice(-40).map(cut).join('\n');
      const names = batch?.map((t) => t.name).join(', ') ?? 'nothing';
      throw new Error(
        limit?.expired
          ? `A lane running ${names} did not finish in ${batchMinutes} minutes: it was stopped, with every process it started.\n${tail}`
          : `A lane running ${names} ended with code ${code}:\n${tail}`,
      );
    }
    laneSeconds[index] = (performance.now() - started) / 1000;
  };
  try {
    await Promise.all(Array.from({ length: Math.min(lanes, batches.length) }, (_, index) => lane(index)));
  } catch (error) {
    for (const group of groups) group.kill('SIGKILL');
    throw error;
  } finally {
    forget();
  }
  return { runs, laneSeconds };
}

if (process.argv[1] === thisFile) {
  // A lane: runs each batch it is sent, answers with the results, and ends when the parent lets go.
  process.on('message', async ({ batch, verbose }: { batch: Target[]; verbose: boolean }) => {
    const runs = await runTargets(batch, { verbose });
    // Vitest sets exit code 1 when tests fail, which is what wrong answers are for: the lane
    // itself has done its job once its results are sent.
    process.exitCode = 0;
    process.send!([...runs]);
  });
}
