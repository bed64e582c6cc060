/** What the kata command and the test run's closing lines look like. */
import path from 'node:path';
import type { Exercise } from '../catalog.ts';
import { repoRoot } from '../paths.ts';
import type { Status } from './progress.ts';

export interface Paint {
  green(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

/** Colors only for a terminal, and never when NO_COLOR is set (FORCE_COLOR forces them). */
export function paintFor(stream: { isTTY?: boolean }): Paint {
  const on = process.env.FORCE_COLOR ? process.env.FORCE_COLOR !== '0' : Boolean(stream.isTTY) && !process.env.NO_COLOR;
  const style = (open: number, close: number) => (text: string) => (on ? `\x1b[${open}m${text}\x1b[${close}m` : text);
  return { green: style(32, 39), red: style(31, 39), yellow: style(33, 39), cyan: style(36, 39), dim: style(2, 22), bold: style(1, 22) };
}

/** A path for the learner to open: relative to the repo, with forward slashes. */
export function shown(file: string): string {
  return path.relative(repoRoot, file).split(path.sep).join('/');
}

/** `01-async` is Part A: async. */
export function partTitle(exercise: Exercise): string {
  const number = Number(exercise.folder.slice(0, 2));
  return `Part ${String.fromCharCode(64 + number)}: ${exercise.part}`;
}

export function progressBar(done: number, total: number, paint: Paint, width = 24): string {
  const filled = total === 0 ? 0 : Math.round((done / total) * width);
  return `${paint.green('█'.repeat(filled))}${paint.dim('░'.repeat(width - filled))} ${done} of ${total} exercise${total === 1 ? '' : 's'} done`;
}

export function statusMark(status: Status, paint: Paint): string {
  switch (status.state) {
    case 'done':
      return paint.green('✓');
    case 'in progress':
      return paint.yellow('◐');
    case 'not started':
      return paint.dim('○');
    case 'broken':
      return paint.red('!');
    case 'not run':
      return paint.dim('?');
  }
}

export function statusText(status: Status, paint: Paint): string {
  switch (status.state) {
    case 'done':
      return paint.green(`done (${status.passed} tests pass${status.skipped ? `, ${status.skipped} skipped` : ''})`);
    case 'in progress':
      return paint.yellow(`${status.passed} of ${status.total} tests pass`);
    case 'not started':
      return paint.dim('not started');
    case 'broken':
      return paint.red('an error outside the tests (does a file fail to load?)');
    case 'not run':
      return paint.dim(status.reason);
  }
}

/** The first exercise that is not done, in the kata's order. */
export function nextExercise(statuses: Map<Exercise, Status>): Exercise | undefined {
  return [...statuses].find(([, status]) => status.state !== 'done')?.[0];
}

/** Every exercise by part, with its status and a progress bar on top. */
export function listLines(statuses: Map<Exercise, Status>, paint: Paint): string[] {
  const all = [...statuses];
  const done = all.filter(([, status]) => status.state === 'done').length;
  const width = Math.max(...all.map(([exercise]) => exercise.id.length));
  const next = nextExercise(statuses);
  const lines = [progressBar(done, all.length, paint)];
  let part = '';
  for (const [exercise, status] of all) {
    if (exercise.part !== part) {
      part = exercise.part;
      lines.push('', paint.bold(partTitle(exercise)));
    }
    const pointer = exercise === next ? paint.cyan(' ← next') : '';
    lines.push(`  ${statusMark(status, paint)} ${exercise.id.padEnd(width)}  ${statusText(status, paint)}${pointer}`);
  }
  return lines;
}

/** Closes a test run: the progress bar, what to do next, and where help is. */
export function closingLines(statuses: Map<Exercise, Status>, paint: Paint): string[] {
  const all = [...statuses.values()];
  const done = all.filter((status) => status.state === 'done').length;
  const next = nextExercise(statuses);
  const lines = [`${paint.bold(' Kata ')} ${progressBar(done, all.length, paint)}`];
  if (!next) {
    lines.push(`       ${paint.green('Every exercise passes.')} Compare yours with the solutions: ${paint.cyan('npm run kata -- compare <exercise>')}`);
    return lines;
  }
  const status = statuses.get(next)!;
  const state = status.state === 'not run' ? '' : `, ${statusText(status, paint)}`;
  lines.push(
    `       Next: ${paint.bold(next.id)}${state}. Read ${shown(path.join(next.dir, 'README.md'))}`,
    `       Stuck? ${paint.cyan(`npm run kata -- hint ${next.id}`)}   All exercises: ${paint.cyan('npm run kata -- list')}`,
  );
  return lines;
}

/** A moment for the learner: `2026-11-28 09:40 (3 minutes ago)`, in their local time. */
export function when(at: Date, now = new Date()): string {
  const two = (n: number) => String(n).padStart(2, '0');
  const date = `${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())} ${two(at.getHours())}:${two(at.getMinutes())}`;
  const minutes = Math.floor((now.getTime() - at.getTime()) / 60_000);
  const count = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'} ago`;
  const ago =
    minutes < 1
      ? 'just now'
      : minutes < 60
        ? count(minutes, 'minute')
        : minutes < 48 * 60
          ? count(Math.floor(minutes / 60), 'hour')
          : count(Math.floor(minutes / 1440), 'day');
  return `${date} (${ago})`;
}
