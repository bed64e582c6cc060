/**
 * `npm run fixtures -- try <folder> [<exercise>...]`: runs answers written outside the repo the way
 * a learner's answer runs (every test of its exercise, the answer laid over the stub), and says which
 * wrong answers passed every test and which right answers were refused: the holes and the false
 * refusals that the repo's own fixtures, written beside the tests, cannot show.
 *
 * The folder holds `<exercise>/<answer>/<the files the learner edits>`, an answer's name starting
 * with `wrong-` or `right-`. Nothing of it is kept in the repo.
 */
import { cpSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { type Exercise, selectExercises } from './catalog.ts';
import { cleanUpOnExit } from './cleanup.ts';
import { stateDir } from './paths.ts';
import type { Target } from './vitest/projects.ts';
import { passedEveryTest, runInLanes, type TargetRun } from './vitest/run-targets.ts';

interface Answer {
  exercise: Exercise;
  name: string;
  kind: 'wrong' | 'right';
  dir: string;
}

/** The answers below `folder`, for `ids` (every exercise when empty); throws a one-line error for a bad layout. */
function answersIn(folder: string, ids: string[]): Answer[] {
  if (!statSync(folder, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`${folder} is not a folder of answers (<exercise>/<answer>/<files>)`);
  const known = selectExercises([]);
  const answers: Answer[] = [];
  for (const id of readdirSync(folder).sort()) {
    if (ids.length > 0 && !ids.includes(id)) continue;
    const exercise = known.find((candidate) => candidate.id === id);
    if (!exercise) throw new Error(`${path.join(folder, id)}: no exercise is called "${id}" (exercises: ${known.map((e) => e.id).join(', ')})`);
    for (const name of readdirSync(path.join(folder, id)).sort()) {
      const kind = name.startsWith('wrong-') ? 'wrong' : name.startsWith('right-') ? 'right' : undefined;
      if (!kind) throw new Error(`${path.join(folder, id, name)}: an answer's name starts with wrong- or right-`);
      answers.push({ exercise, name, kind, dir: path.join(folder, id, name) });
    }
  }
  return answers;
}

export async function tryAnswers(folder: string, ids: string[]): Promise<number> {
  const answers = answersIn(path.resolve(folder), ids);
  if (answers.length === 0) throw new Error(`${folder} holds no answers${ids.length > 0 ? ` for ${ids.join(', ')}` : ''}`);
  const workDir = path.join(stateDir, `try-${process.pid}`);
  cleanUpOnExit(() => rmSync(workDir, { recursive: true, force: true }));
  const targets = new Map<Answer, Target>();
  for (const answer of answers) {
    // The learner's folder: the stub with the answer's files over it.
    const root = path.join(workDir, answer.exercise.id, answer.name);
    const exerciseFolder = path.join(root, answer.exercise.folder);
    mkdirSync(exerciseFolder, { recursive: true });
    cpSync(answer.exercise.dir, exerciseFolder, { recursive: true });
    cpSync(answer.dir, exerciseFolder, { recursive: true });
    targets.set(answer, { name: `${answer.kind}:${answer.exercise.id}/${answer.name}`, dir: root, include: answer.exercise.tests });
  }
  // One answer per Vitest instance: two answers of one exercise must not share one (see run-targets.ts).
  const { runs } = await runInLanes(
    [...targets.values()].map((target) => [target]),
    { lanes: 2 * availableParallelism() + 1, logDir: path.join(workDir, 'logs') },
  );
  let surprises = 0;
  for (const [answer, target] of targets) {
    const run = runs.get(target.name)!;
    const passed = passedEveryTest(run);
    const surprising = passed === (answer.kind === 'wrong');
    if (surprising) surprises += 1;
    console.log(`${surprising ? '!' : ' '} ${target.name}: ${verdict(run)}`);
  }
  const wrong = answers.filter((answer) => answer.kind === 'wrong').length;
  console.log(
    `\n${surprises} surprise(s) in ${answers.length} answers (${wrong} wrong, ${answers.length - wrong} right): a wrong answer that passed every test, or a right one refused, marked !`,
  );
  return surprises === 0 ? 0 : 1;
}

function verdict(run: TargetRun): string {
  const failed = run.results.filter((test) => test.state === 'failed');
  if (passedEveryTest(run)) return `passed every test (${run.results.length})`;
  const first = failed[0];
  const said = first
    ? `${first.name}: ${(first.messages[0] ?? '').split('\n')[0]!.slice(0, 240)}`
    : (run.unhandled[0]?.message.split('\n')[0] ?? 'no test ran');
  return `failed ${failed.length} of ${run.results.length}${run.unhandled.length > 0 ? `, ${run.unhandled.length} unhandled error(s)` : ''}; ${said}`;
}
