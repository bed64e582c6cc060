/**
 * The kata's own tools pass their tests: `npm run test:tooling` (state files, command lines, clean-up,
 * reset and restore, progress whatever the reporter, outer deadlines, orphans). Exit 0 passed, 1 failed.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { repoRoot } from '../paths.ts';

const run = spawnSync(process.execPath, [path.join(repoRoot, 'node_modules/vitest/vitest.mjs'), 'run', '--project', 'tooling'], {
  cwd: repoRoot,
  encoding: 'utf8',
  env: { ...process.env, CI: 'true', FORCE_COLOR: '0' },
  // Its tests wait on whole Vitest runs and on deadlines of their own; this is the last resort.
  // A guard against a hang: beside verify's lanes and a CPU hog the tools' tests passed 240 s (stress --verify at 7943918).
  timeout: 600_000,
  killSignal: 'SIGKILL',
});
const said = stripVTControlCharacters(`${run.stdout}${run.stderr}`);
const tests = /^\s*Tests\s+(.*)$/m.exec(said)?.[1]?.trim();
if (run.status === 0) {
  console.log(`npm run test:tooling: ${tests ?? 'passed'}`);
} else {
  const why = run.error ? `did not finish: ${run.error.message}` : `exited with ${run.status ?? run.signal}`;
  console.log(
    `npm run test:tooling ${why}${tests ? ` (${tests})` : ''}:\n${said
      .split('\n')
      .filter((line) => /FAIL|×|✗|Error/.test(line))
      .slice(0, 40)
      .join('\n')}`,
  );
  process.exit(1);
}
