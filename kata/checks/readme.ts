/**
 * The README tells the truth: every exercise is in its table, every path it names exists,
 * and every `npm run <script>` it mentions is a script in package.json. And the exercises' READMEs
 * quote the costs the bench measured: a figure marked `~26 ms<!-- bench: worker-startup -->` must
 * lie within 40% of that row's median in bench/results/latest.json, the one home of those figures.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { exercises } from '../catalog.ts';
import { repoRoot } from '../paths.ts';

const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
const scripts = Object.keys((JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);
const problems: string[] = [];

for (const exercise of exercises()) {
  if (!readme.includes(`exercises/${exercise.folder}`))
    problems.push(`exercise ${exercise.id} (exercises/${exercise.folder}) is missing from the README's table`);
}
for (const [, link] of readme.matchAll(/\]\((?!https?:|#)([^)#\s]+)/g)) {
  if (!existsSync(path.join(repoRoot, link!))) problems.push(`the README links to ${link}, which does not exist`);
}
for (const [, script] of readme.matchAll(/npm run ([\w:-]+)/g)) {
  if (!scripts.includes(script!)) problems.push(`the README mentions "npm run ${script}", which is not a script in package.json`);
}

const bench = JSON.parse(readFileSync(path.join(repoRoot, 'bench/results/latest.json'), 'utf8')) as {
  groups: Array<{ rows: Array<{ id: string; unit: string; stats: { median: number } }> }>;
};
const rows = new Map(bench.groups.flatMap((group) => group.rows).map((row) => [row.id, row]));
let quoted = 0;
for (const exercise of exercises()) {
  const file = path.join('exercises', exercise.folder, 'README.md');
  const text = readFileSync(path.join(repoRoot, file), 'utf8');
  for (const [, value, unit, id] of text.matchAll(/~([\d.]+) ?(\S+?)<!-- bench: ([\w-]+) -->/g)) {
    quoted += 1;
    const row = rows.get(id!);
    if (!row) problems.push(`${file} quotes the bench row "${id}", which bench/results/latest.json does not have`);
    else if (row.unit !== unit) problems.push(`${file} quotes "${id}" in ${unit}; the bench measures it in ${row.unit}`);
    else if (Math.abs(Number(value) - row.stats.median) > 0.4 * row.stats.median) {
      problems.push(`${file} says ~${value} ${unit} for "${id}"; the bench's median is ${row.stats.median.toFixed(1)} ${unit}: quote the bench`);
    }
  }
}

if (problems.length > 0) {
  console.log(problems.join('\n'));
  process.exit(1);
}
console.log(
  `README lists all ${exercises().length} exercises; its links and npm scripts exist; the ${quoted} figures the exercises quote from the bench agree with it`,
);
