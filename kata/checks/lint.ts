/**
 * The code passes the linter and is formatted: `npm run lint` (Biome's check, configured in
 * biome.json). Exit 0 passed, 1 failed.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { repoRoot } from '../paths.ts';

const run = spawnSync(process.execPath, [path.join(repoRoot, 'node_modules/@biomejs/biome/bin/biome'), 'check', '--max-diagnostics=20', '.'], {
  cwd: repoRoot,
  encoding: 'utf8',
  env: { ...process.env, NO_COLOR: '1' },
});
const said = stripVTControlCharacters(`${run.stdout}${run.stderr}`).trim();
const checked = /Checked (\d+) files?/.exec(said)?.[1];
if (run.status === 0) console.log(`npm run lint: ${checked ?? 'all'} files, no problem`);
else {
  console.log(`npm run lint found problems (fix them; npm run fixtures -- format formats the tree and writes the patches again to match):\n${said}`);
  process.exit(1);
}
