/** A unified diff of two texts, line by line, small enough to need no library. */
import type { Paint } from './format.ts';

type Edit = { kind: ' ' | '-' | '+'; line: string };

/** Lines of `before` and `after` as keep/remove/add edits (a longest common subsequence). */
function edits(before: string[], after: string[]): Edit[] {
  // Common lines at both ends need no table: only the changed middle does.
  let head = 0;
  while (head < before.length && head < after.length && before[head] === after[head]) head += 1;
  let tail = 0;
  while (tail < before.length - head && tail < after.length - head && before[before.length - 1 - tail] === after[after.length - 1 - tail]) tail += 1;
  const a = before.slice(head, before.length - tail);
  const b = after.slice(head, after.length - tail);
  // common[i][j]: length of the longest common subsequence of a[i..] and b[j..].
  const width = b.length + 1;
  const common = new Uint32Array((a.length + 1) * width);
  for (let i = a.length - 1; i >= 0; i -= 1) {
    for (let j = b.length - 1; j >= 0; j -= 1) {
      common[i * width + j] = a[i] === b[j] ? common[(i + 1) * width + j + 1]! + 1 : Math.max(common[(i + 1) * width + j]!, common[i * width + j + 1]!);
    }
  }
  const middle: Edit[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      middle.push({ kind: ' ', line: a[i]! });
      i += 1;
      j += 1;
    } else if (i < a.length && (j === b.length || common[(i + 1) * width + j]! >= common[i * width + j + 1]!)) {
      // Removals before additions, as diff prints them.
      middle.push({ kind: '-', line: a[i]! });
      i += 1;
    } else {
      middle.push({ kind: '+', line: b[j]! });
      j += 1;
    }
  }
  const keep = (lines: string[]) => lines.map((line): Edit => ({ kind: ' ', line }));
  return [...keep(before.slice(0, head)), ...middle, ...keep(before.slice(before.length - tail))];
}

const linesOf = (text: string) => {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
};

/**
 * The diff from `before` to `after` with `context` unchanged lines around each change, under
 * `---`/`+++` headers naming both sides. Empty when the texts are the same (line endings aside).
 */
export function unifiedDiff(before: string, after: string, names: { before: string; after: string }, paint: Paint, context = 3): string {
  const all = edits(linesOf(before), linesOf(after));
  const changed = all.flatMap((edit, index) => (edit.kind === ' ' ? [] : [index]));
  if (changed.length === 0) return '';
  // Group changes whose context would touch into one hunk.
  const hunks: Array<[number, number]> = [];
  for (const index of changed) {
    const last = hunks.at(-1);
    if (last && index - last[1] <= 2 * context) last[1] = index;
    else hunks.push([index, index]);
  }
  const out = [paint.red(`--- ${names.before}`), paint.green(`+++ ${names.after}`)];
  for (const [first, last] of hunks) {
    const from = Math.max(0, first - context);
    const to = Math.min(all.length - 1, last + context);
    const lineBefore = all.slice(0, from).filter((edit) => edit.kind !== '+').length + 1;
    const lineAfter = all.slice(0, from).filter((edit) => edit.kind !== '-').length + 1;
    const slice = all.slice(from, to + 1);
    const countBefore = slice.filter((edit) => edit.kind !== '+').length;
    const countAfter = slice.filter((edit) => edit.kind !== '-').length;
    // As in diff: an empty side names the line before it.
    const range = (line: number, count: number) => `${count === 0 ? line - 1 : line},${count}`;
    out.push(paint.cyan(`@@ -${range(lineBefore, countBefore)} +${range(lineAfter, countAfter)} @@`));
    for (const edit of slice) {
      const text = `${edit.kind}${edit.line}`;
      out.push(edit.kind === '-' ? paint.red(text) : edit.kind === '+' ? paint.green(text) : paint.dim(text));
    }
  }
  return out.join('\n');
}
