import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { applyPatch, formatPatch, parsePatch, structuredPatch } from 'diff';
import type { Fixture } from './catalog.ts';

/**
 * Wrong answers that change a few lines of a solution are kept as patches (unified diffs against
 * the solution's files), so that the diff is the mistake and nothing else. The patch's first lines
 * are the fixture's header (`// Wrong: ...`, `// Rejected with: ...`, ...); `git diff` and `patch`
 * skip them as they skip any text before the first `---` line.
 */

/** Lays the patch over `folder`, a copy of the solution; a hunk that no longer fits is an error that says what to do. */
export function applyFixturePatch(fixture: Fixture, folder: string): void {
  for (const filePatch of parsePatch(fixture.patch!)) {
    const file = filePatch.newFileName!.replace(/^b\//, '');
    const target = path.join(folder, file);
    const patched = applyPatch(readFileSync(target, 'utf8'), filePatch);
    if (patched === false) {
      throw new Error(
        `${path.basename(fixture.dir)} (${fixture.exercise.id}) no longer applies to ${file} of the solution: ` +
          're-derive the mistake from the solution as it is now, and write the patch again (npm run fixtures -- to-patch <folder>).',
      );
    }
    writeFileSync(target, patched);
  }
}

/** The header lines a fixture's files start with. */
const headerLine = /^\/\/ (?:Wrong|Right|Rejected with|Rejected by|Breaks): /;

/** A folder fixture's files, as a patch against the solution: the header first, then one diff per file. */
export function folderAsPatch(fixture: Fixture): string {
  return patchOf(
    fixture,
    fixture.files.map((file) => [file, readFileSync(path.join(fixture.dir, file), 'utf8')]),
  );
}

/** The files of a fixture as they should be (header lines at the top of any of them), as a patch against the solution. */
export function patchOf(fixture: Fixture, files: Array<[file: string, text: string]>): string {
  const header: string[] = [];
  const diffs = files.map(([file, text]) => {
    const lines = text.split('\n');
    while (lines.length > 0 && headerLine.test(lines[0]!)) header.push(lines.shift()!);
    const solution = readFileSync(path.join(fixture.exercise.solutionDir, file), 'utf8');
    const patch = structuredPatch(`a/${file}`, `b/${file}`, solution, lines.join('\n'), undefined, undefined, { context: 1 });
    // Hunks that only reword comments are not the mistake.
    patch.hunks = patch.hunks.filter((hunk) => hunk.lines.some((line) => /^[-+]/.test(line) && !isComment(line.slice(1))));
    return formatPatch(patch)
      .replace(/^=+\n/m, '')
      .replace(/^(---|\+\+\+) (\S+)\t$/gm, '$1 $2');
  });
  return `${header.join('\n')}\n\n${diffs.join('')}`;
}

/** A patch fixture's files as the wrong answer has them (the patch laid over the solution as it is now), the header on the first. */
export function patchedFiles(fixture: Fixture): Array<[file: string, text: string]> {
  const header = fixture.patch!.slice(0, fixture.patch!.search(/^--- /m)).trimEnd();
  return parsePatch(fixture.patch!).map((filePatch, index) => {
    const file = filePatch.newFileName!.replace(/^b\//, '');
    const patched = applyPatch(readFileSync(path.join(fixture.exercise.solutionDir, file), 'utf8'), filePatch);
    if (patched === false) throw new Error(`${path.basename(fixture.dir)} (${fixture.exercise.id}) no longer applies to ${file} of the solution`);
    return [file, index === 0 ? `${header}\n${patched}` : patched];
  });
}

const isComment = (line: string) => /^\s*(?:\/\/.*|\/?\*.*)?$/.test(line);
