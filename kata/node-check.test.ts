/**
 * kata/node-check.mjs, which every npm script runs first: one line for a Node outside package.json
 * engines, silence for one inside. It judges the version given as its argument, so every version
 * is tried with this Node; the system's own Node, when it is an old one, is tried for real.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { repoRoot } from './paths.ts';

const script = path.join(repoRoot, 'kata/node-check.mjs');

function check(node: string, ...args: string[]) {
  const result = spawnSync(node, [script, ...args], { cwd: repoRoot, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const refusal = (version: string) =>
  `This is Node ${version}; the kata needs Node 22.18+ or 24+ (package.json engines: ^22.18.0 || >=24.0.0). ` +
  'Switch with "nvm install" or "fnm use --install-if-missing" (both read .nvmrc: 24), or "volta install node@24", then run the command again.\n';

describe('a Node outside package.json engines: one line on stderr, exit code 1', () => {
  test.each(['18.20.4', '20.20.2', '22.17.1', '23.11.0', 'v20.0.0'])('%s', (version) => {
    const { code, stdout, stderr } = check(process.execPath, version);
    expect(stderr).toBe(refusal(version.replace(/^v/, '')));
    expect(stdout).toBe('');
    expect(code).toBe(1);
  });
});

describe('a supported Node: silence, exit code 0', () => {
  test.each(['22.18.0', '22.20.1', '24.0.0', '24.21.0', '26.10.0', '30.0.0'])('%s', (version) => {
    expect(check(process.execPath, version)).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  test('this Node', () => {
    expect(check(process.execPath)).toEqual({ code: 0, stdout: '', stderr: '' });
  });
});

// Debian's Node 20 (and other old ones) must parse the check itself, not only be judged by it.
const systemNode = '/usr/bin/node';
const systemVersion = existsSync(systemNode) ? spawnSync(systemNode, ['--version'], { encoding: 'utf8' }).stdout.trim().replace(/^v/, '') : '';
test.runIf(/^(1\d|2[01])\./.test(systemVersion) || /^22\.(\d|1[0-7])\./.test(systemVersion))(
  `the system's old Node (${systemVersion || 'none'}) runs the check and refuses`,
  () => {
    expect(check(systemNode)).toEqual({ code: 1, stdout: '', stderr: refusal(systemVersion) });
  },
);

test('every npm script that runs the kata checks the Node first', () => {
  const { scripts } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const unchecked = Object.entries(scripts).filter(([name, command]) => name !== 'typecheck' && !command.startsWith('node kata/node-check.mjs && '));
  expect(unchecked, 'scripts that do not start with "node kata/node-check.mjs && "').toEqual([]);
});
