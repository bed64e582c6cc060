/**
 * The kata command: `npm run kata -- <command>`. Progress comes from real test runs (see
 * cli/progress.ts): the tests of any exercise changed since its last run are run again first.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { type Exercise, exercises, selectExercises } from './catalog.ts';
import { parseCommandLine, UsageError, wholeNumber } from './cli/args.ts';
import { sweepLeftovers } from './cleanup.ts';
import { unifiedDiff } from './cli/diff.ts';
import { backUp, backupsOf, filesIn, isLearners, latestBackup, restoreFiles } from './cli/backups.ts';
import { listLines, nextExercise, paintFor, partTitle, shown, statusText, when } from './cli/format.ts';
import { hintsOf } from './cli/hints.ts';
import { codeFiles, learnerFiles, type Status } from './cli/progress.ts';
import { refreshProgress, TestsOverran } from './cli/refresh.ts';
import { changedFiles, committedFiles, committedStub, resetExercise, sameText } from './cli/reset.ts';
import { stateDir } from './paths.ts';
import { ensureWritable, NotWritable, shownPath } from './writable.ts';

const paint = paintFor(process.stdout);
const say = (...lines: string[]) => console.log(lines.join('\n'));

/** A command that cannot go on (not passed yet, not confirmed): answered with the message alone. */
class Refusal extends Error {}

function usage(): string {
  return [
    `Usage: ${paint.cyan('npm run kata -- <command>')}`,
    '',
    `  ${paint.bold('list')}                       every exercise, done or not`,
    `  ${paint.bold('next')}                       the first exercise not done yet: its instructions and files`,
    `  ${paint.bold('hint')} <exercise> [level]    a hint; level 1 (the default) is a nudge, the last is nearly the answer`,
    `  ${paint.bold('compare')} <exercise>         your files against the reference solution, once your tests pass`,
    `                             (--peek: before they pass)`,
    `  ${paint.bold('reset')} <exercise>           the stub back, your files kept in .kata/backups (--yes: do not ask)`,
    `  ${paint.bold('restore')} <exercise>         your files back from the latest backup reset made (--yes: do not ask)`,
    `  ${paint.bold('help')}                       this list (also --help)`,
    '',
    `Exercises: ${exercises()
      .map((exercise) => exercise.id)
      .join(', ')}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values, positionals } = parseCommandLine({
    args: process.argv.slice(2),
    options: {
      peek: { type: 'boolean', default: false },
      yes: { type: 'boolean', short: 'y', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
  });
  const [verb, ...rest] = positionals;
  if (values.help) return say(usage());
  if (values.peek && verb !== 'compare') throw new UsageError('--peek goes with compare.');
  if (values.yes && verb !== 'reset' && verb !== 'restore') throw new UsageError('--yes goes with reset or restore.');

  switch (verb) {
    case undefined:
      say(usage(), '');
      return list();
    case 'list':
      expectArguments(verb, rest, 0);
      return list();
    case 'next':
      expectArguments(verb, rest, 0);
      return next();
    case 'hint':
      expectArguments(verb, rest, 1, 2);
      return hint(exerciseNamed(rest[0]!), rest[1]);
    case 'compare':
      expectArguments(verb, rest, 1);
      return compare(exerciseNamed(rest[0]!), values.peek);
    case 'reset':
      expectArguments(verb, rest, 1);
      return reset(exerciseNamed(rest[0]!), values.yes);
    case 'restore':
      expectArguments(verb, rest, 1);
      return restore(exerciseNamed(rest[0]!), values.yes);
    case 'help':
      expectArguments(verb, rest, 0);
      return say(usage());
    default:
      throw new UsageError(`There is no command "${verb}".`);
  }
}

function expectArguments(verb: string, rest: string[], min: number, max = min): void {
  if (rest.length < min) throw new UsageError(`${verb} needs an exercise: npm run kata -- ${verb} <exercise>`);
  if (rest.length > max)
    throw new UsageError(
      `${verb} takes ${max === 0 ? 'no arguments' : max === 1 ? 'one exercise' : 'an exercise and a level'}; it was given: ${rest.join(' ')}`,
    );
}

function exerciseNamed(id: string): Exercise {
  try {
    return selectExercises([id])[0]!;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Statuses from test results that match the files as they are now (running the tests it must). */
function statuses(selected: Exercise[] = exercises()): Promise<Map<Exercise, Status>> {
  return refreshProgress(selected, (stale) => {
    const names = stale.map((exercise) => exercise.id).join(', ');
    console.error(
      paint.dim(
        `Running the tests of ${names}: ${stale.length === 1 ? 'it has' : 'they have'} no result for ${stale.length === 1 ? 'its' : 'their'} files as they are now ...`,
      ),
    );
  });
}

async function list(): Promise<void> {
  say(...listLines(await statuses(), paint));
}

async function next(): Promise<void> {
  const all = await statuses();
  const exercise = nextExercise(all);
  if (!exercise) {
    return say(
      paint.green(`All ${all.size} exercises pass.`),
      `See how yours compare with the reference solutions: ${paint.cyan('npm run kata -- compare <exercise>')}`,
    );
  }
  const hints = hintsOf(exercise).length;
  const files = (list: string[]) => list.map((file) => shown(path.join(exercise.dir, file))).join('\n                ');
  say(
    `${paint.bold(`Next: ${exercise.id}`)} (${partTitle(exercise)}), ${statusText(all.get(exercise)!, paint)}`,
    '',
    readFileSync(path.join(exercise.dir, 'README.md'), 'utf8').trim(),
    '',
    paint.dim('─'.repeat(60)),
    `Your files:     ${files(learnerFiles(exercise))}`,
    `Its tests:      ${files(exercise.tests.map((test) => path.basename(test)))}`,
    `Run the tests:  ${paint.cyan(`npm test -- ${exercise.id}`)}`,
    ...(hints > 0 ? [`Stuck?          ${paint.cyan(`npm run kata -- hint ${exercise.id}`)}  (${hints} levels)`] : []),
  );
}

function hint(exercise: Exercise, levelText = '1'): void {
  const hints = hintsOf(exercise);
  if (hints.length === 0) throw new Refusal(`${exercise.id} has no hints yet (no "## 1" in ${shown(path.join(exercise.dir, 'hints.md'))}).`);
  const level = wholeNumber(levelText, `The hint level of ${exercise.id}`, { min: 1, max: hints.length }, 'must be');
  const after =
    level < hints.length
      ? `A stronger hint: ${paint.cyan(`npm run kata -- hint ${exercise.id} ${level + 1}`)}`
      : `That was the last hint. The reference solution, if you need it: ${paint.cyan(`npm run kata -- compare ${exercise.id} --peek`)}`;
  say(paint.bold(`Hint ${level} of ${hints.length} for ${exercise.id}`), '', hints[level - 1]!.replace(/^/gm, '  '), '', paint.dim(after));
}

async function compare(exercise: Exercise, peek: boolean): Promise<void> {
  const status = (await statuses([exercise])).get(exercise)!;
  if (status.state !== 'done' && !peek) {
    throw new Refusal(
      [
        `compare shows the reference solution once ${exercise.id} passes its tests; now: ${statusText(status, paint)}.`,
        `Run them with ${paint.cyan(`npm test -- ${exercise.id}`)}, or look anyway: ${paint.cyan(`npm run kata -- compare ${exercise.id} --peek`)}`,
      ].join('\n'),
    );
  }
  const files = exercise.manifest ? learnerFiles(exercise) : [...new Set([...learnerFiles(exercise), ...codeFiles(exercise.solutionDir)])].sort();
  const read = (file: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  };
  const diffs = files.flatMap((file) => {
    const mine = path.join(exercise.dir, file);
    const theirs = path.join(exercise.solutionDir, file);
    const [yours, solution] = [read(mine), read(theirs)];
    const diff = unifiedDiff(
      yours ?? '',
      solution ?? '',
      {
        before: yours === undefined ? `(you have no ${file})` : `yours     ${shown(mine)}`,
        after: solution === undefined ? `(the solution has no ${file})` : `solution  ${shown(theirs)}`,
      },
      paint,
    );
    return diff ? [diff] : [];
  });
  const state = status.state === 'done' ? paint.green('your tests pass') : statusText(status, paint);
  if (diffs.length === 0) return say(`${exercise.id} (${state}): your files are the same as the reference solution.`);
  say(
    `${paint.bold(exercise.id)} (${state}): your files ${paint.red('(-)')} against the reference solution ${paint.green('(+)')}.`,
    paint.dim('Different is fine when the tests pass: read the comments in the solution for why it does what it does.'),
    '',
    diffs.join('\n\n'),
  );
}

/** The committed stub of the exercise, file by file (git's objects, not the folder). */
function committedStubFiles(exercise: Exercise): Map<string, Buffer> {
  try {
    return committedFiles(exercise, committedStub(exercise));
  } catch (error) {
    throw new Refusal((error as Error).message);
  }
}

/** True once the learner has said yes (or gave --yes); a Refusal without a terminal to ask in. */
async function confirm(confirmed: boolean, question: string, withoutTerminal: string): Promise<boolean> {
  if (confirmed) return true;
  if (!process.stdin.isTTY) throw new Refusal(withoutTerminal);
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await prompt.question(`${question} [y/N] `);
  prompt.close();
  if (/^y(es)?$/i.test(answer.trim())) return true;
  say('Nothing changed.');
  return false;
}

async function reset(exercise: Exercise, confirmed: boolean): Promise<void> {
  const committed = committedStubFiles(exercise);
  const changed = changedFiles(exercise, committed);
  if (changed.length === 0) return say(`${exercise.id} is the stub already: nothing to reset.`);
  const where = shown(exercise.dir);
  // The backup goes to .kata/backups: no reset without a place for it, and no question asked in vain.
  ensureWritable(stateDir);
  const asked = await confirm(
    confirmed,
    `Put the stub of ${exercise.id} back? Your ${changed.join(', ')} in ${where} go to a backup first.`,
    `reset replaces ${changed.join(', ')} in ${where} and needs a yes: run it in a terminal, or add --yes: npm run kata -- reset ${exercise.id} --yes`,
  );
  if (!asked) return;
  const backup = resetExercise(exercise, committed);
  const kept = backup
    ? `Your files are kept in ${shownPath(backup)}/ (npm run kata -- restore ${exercise.id} puts them back).`
    : 'None of your files were there to keep.';
  say(`${paint.green(`${exercise.id} is the stub again.`)} ${kept}`);
}

async function restore(exercise: Exercise, confirmed: boolean): Promise<void> {
  const backup = latestBackup(exercise);
  if (!backup)
    throw new Refusal(`${exercise.id} has no backup to restore: reset makes one (in ${shownPath(backupsOf(exercise))}/) before it puts the stub back.`);
  const committed = committedStubFiles(exercise);
  const read = (file: string) => (existsSync(file) ? readFileSync(file) : undefined);
  // An older backup may hold the README and tests too: only the learner's files come back.
  const files = backup.files.filter((file) => isLearners(file, committed));
  const differ = files.filter((file) => {
    const now = read(path.join(exercise.dir, file));
    return now === undefined || !sameText(now, readFileSync(path.join(backup.dir, file)));
  });
  const from = `the backup of ${when(backup.at)}`;
  if (differ.length === 0) return say(`${exercise.id} already has the files of ${from}: nothing to restore.`);
  // Work done since the reset (files that are neither the stub nor the backup) is kept first.
  const unsaved = differ.filter((file) => {
    const now = read(path.join(exercise.dir, file));
    const stub = committed.get(file);
    return now !== undefined && (stub === undefined || !sameText(now, stub));
  });
  if (unsaved.length > 0) ensureWritable(stateDir);
  const where = shown(exercise.dir);
  const asked = await confirm(
    confirmed,
    `Put back your ${differ.join(', ')} of ${exercise.id} from ${from}?${unsaved.length > 0 ? ` Your ${unsaved.join(', ')} as they are now go to a backup first.` : ''}`,
    `restore replaces ${differ.join(', ')} in ${where} and needs a yes: run it in a terminal, or add --yes: npm run kata -- restore ${exercise.id} --yes`,
  );
  if (!asked) return;
  const kept =
    unsaved.length > 0
      ? backUp(
          exercise,
          filesIn(exercise.dir).filter((file) => isLearners(file, committed)),
        )
      : undefined;
  restoreFiles(exercise, backup, files);
  say(
    `${paint.green(`${exercise.id} is back as it was on ${when(backup.at)}`)}: ${differ.join(', ')}, from ${shownPath(backup.dir)}/` +
      (kept ? `. Your files as they were are kept in ${shownPath(kept)}/` : ''),
  );
}

// What a killed run left in .kata (a half-written progress file, verify's copies) goes first.
sweepLeftovers();
try {
  await main();
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`${error.message}\n\n${usage()}`);
    process.exitCode = 2;
  } else if (error instanceof Refusal || error instanceof NotWritable || error instanceof TestsOverran) {
    console.error(error.message);
    process.exitCode = 1;
    // Test processes still running after an overrun must not keep the command from ending.
    if (error instanceof TestsOverran) process.exit();
  } else {
    throw error;
  }
}
