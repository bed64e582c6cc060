import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { type Manifest, readManifest } from './manifest.ts';
import { exercisesDir, fixturesDir, repoRoot, solutionsDir } from './paths.ts';

/** One exercise: a numbered folder in a numbered part, e.g. exercises/01-async/01-gather. */
export interface Exercise {
  /** Stable id from the curriculum, the folder name without its number: `gather`. */
  id: string;
  /** `01-async/01-gather`, the same below exercises/, solutions/ and fixtures/. */
  folder: string;
  part: string;
  dir: string;
  solutionDir: string;
  /** Test files, relative to the repo root with forward slashes (vitest's include patterns). */
  tests: string[];
  /** `.meta/config.json`: the files the learner edits and the requirements; undefined if it has none. */
  manifest: Manifest | undefined;
}

/** A wrong or right answer kept in the repo to prove the exercise's tests judge correctly. */
export interface Fixture {
  exercise: Exercise;
  kind: 'wrong' | 'right';
  /** `wrong-sequential-awaits` */
  name: string;
  /** The fixture's folder, or its `.patch` file. */
  dir: string;
  /**
   * A folder's files are laid over a copy of the solution: they replace its files of the same name,
   * or add to them. A patch (a unified diff against the solution's files) names the files it edits.
   */
  files: string[];
  /** A wrong answer kept as a patch: its diff against the solution is the mistake. */
  patch?: string;
  /** The first comment line: what the learner believed, or which right answer this is. */
  summary: string;
  /** For wrong answers: text the tests' failure message must contain. */
  rejectedWith?: string;
  /** For wrong answers: the full name (`describe > test`) of the test that must fail with that text. */
  rejectedBy?: string;
  /** For wrong answers: the id of the requirement (in `.meta/config.json`) the mistake breaks. */
  breaks?: string;
}

const numbered = (dir: string) =>
  readdirSync(dir)
    .filter((name) => /^\d\d-/.test(name) && statSync(path.join(dir, name)).isDirectory())
    .sort();

const posix = (file: string) => path.relative(repoRoot, file).split(path.sep).join('/');

export function exercises(): Exercise[] {
  return numbered(exercisesDir).flatMap((part) =>
    numbered(path.join(exercisesDir, part)).map((name) => {
      const folder = `${part}/${name}`;
      const dir = path.join(exercisesDir, part, name);
      return {
        id: name.replace(/^\d\d-/, ''),
        folder,
        part: part.replace(/^\d\d-/, ''),
        dir,
        solutionDir: path.join(solutionsDir, part, name),
        tests: readdirSync(dir)
          .filter((file) => file.endsWith('.test.ts'))
          .map((file) => posix(path.join(dir, file))),
        manifest: readManifest(dir),
      };
    }),
  );
}

/** Exercises named by id (all of them when `ids` is empty); an unknown id is an error that lists the known ones. */
export function selectExercises(ids: string[]): Exercise[] {
  const all = exercises();
  const unknown = ids.filter((id) => !all.some((exercise) => exercise.id === id));
  if (unknown.length > 0) {
    throw new Error(`Unknown exercise ${unknown.map((id) => `"${id}"`).join(', ')}. Exercises: ${all.map((e) => e.id).join(', ')}`);
  }
  return ids.length === 0 ? all : all.filter((exercise) => ids.includes(exercise.id));
}

export function fixtures(exercise: Exercise): Fixture[] {
  let names: string[];
  try {
    names = readdirSync(path.join(fixturesDir, exercise.folder)).sort((a, b) => a.replace(/\.patch$/, '').localeCompare(b.replace(/\.patch$/, '')));
  } catch {
    return [];
  }
  return names.map((entry) => {
    const dir = path.join(fixturesDir, exercise.folder, entry);
    const isPatch = entry.endsWith('.patch');
    const name = entry.replace(/\.patch$/, '');
    const kind = name.split('-')[0];
    if (kind !== 'wrong' && kind !== 'right') {
      throw new Error(`${posix(dir)}: a fixture's name starts with "wrong-" or "right-"`);
    }
    let files: string[];
    let text: string;
    if (isPatch) {
      text = readFileSync(dir, 'utf8');
      files = [...text.matchAll(/^\+\+\+ b\/(\S+)/gm)].map((match) => match[1]!);
      if (files.length === 0) throw new Error(`${posix(dir)}: a patch edits at least one file ("+++ b/<file>" lines, as git diff writes them)`);
    } else {
      files = readdirSync(dir).filter((file) => file.endsWith('.ts'));
      text = files.map((file) => readFileSync(path.join(dir, file), 'utf8')).join('\n');
    }
    const summary = /^\/\/ (?:Wrong|Right): (.+)$/m.exec(text)?.[1];
    const rejectedWith = /^\/\/ Rejected with: (.+)$/m.exec(text)?.[1]?.trim();
    const rejectedBy = /^\/\/ Rejected by: (.+)$/m.exec(text)?.[1]?.trim();
    const breaks = /^\/\/ Breaks: (.+)$/m.exec(text)?.[1]?.trim();
    if (files.length === 0) throw new Error(`${posix(dir)}: a fixture holds at least one .ts file`);
    // A fixture may add files (a separate worker file, say), but it must change the solution:
    // a fixture whose every name is misspelt would otherwise test the solution itself.
    if (!files.some((file) => exists(path.join(exercise.solutionDir, file)))) {
      throw new Error(`${posix(dir)} replaces no file of ${exercise.id}: name at least one file after a file in ${posix(exercise.solutionDir)}`);
    }
    if (!summary) throw new Error(`${posix(dir)}: say what the answer is in a first comment line "// ${kind === 'wrong' ? 'Wrong' : 'Right'}: ..."`);
    if (kind === 'wrong' && !rejectedWith) {
      throw new Error(`${posix(dir)}: a wrong answer names the message that rejects it in a line "// Rejected with: ..."`);
    }
    if (kind === 'wrong' && !rejectedBy) {
      throw new Error(`${posix(dir)}: a wrong answer names the test that rejects it in a line "// Rejected by: <describe> > <test>"`);
    }
    return { exercise, kind, name, dir, files, summary, rejectedWith, rejectedBy, breaks, ...(isPatch ? { patch: text } : {}) };
  });
}

/** Whether `file` is a file (not a folder, not missing). */
export function exists(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
