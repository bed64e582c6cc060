/**
 * The README tells the truth: every exercise is in its table, every path it names exists,
 * and every `npm run <script>` it mentions is a script in package.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { exercises } from '../catalog.ts';
import { repoRoot } from '../paths.ts';

const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
const scripts = Object.keys((JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);
const problems: string[] = [];

for (const exercise of exercises()) {
  if (!readme.includes(`exercises/${exercise.folder}`)) problems.push(`exercise ${exercise.id} (exercises/${exercise.folder}) is missing from the README's table`);
}
for (const [, link] of readme.matchAll(/\]\((?!https?:|#)([^)#\s]+)/g)) {
  if (!existsSync(path.join(repoRoot, link!))) problems.push(`the README links to ${link}, which does not exist`);
}
for (const [, script] of readme.matchAll(/npm run ([\w:-]+)/g)) {
  if (!scripts.includes(script!)) problems.push(`the README mentions "npm run ${script}", which is not a script in package.json`);
}

if (problems.length > 0) {
  console.log(problems.join('\n'));
  process.exit(1);
}
console.log(`README lists all ${exercises().length} exercises; its links and npm scripts exist`);
