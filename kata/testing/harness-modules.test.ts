import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { repoRoot } from '../paths.ts';

// CONTRIBUTING, rule 8: Node dies of SIGTRAP when a test stops a worker just as the async part of
// its module starts (nodejs/node#53238), so no harness, nor anything it imports, has a top-level await.
test('no harness has a top-level await, in its own code or in what it imports', () => {
  const harnesses = globSync('exercises/*/*/*.harness.ts', { cwd: repoRoot }).sort();
  expect(harnesses.length).toBeGreaterThan(20);
  const async = harnesses.filter((file) => {
    // require() refuses a module graph with a top-level await before it runs any of it
    // (ERR_REQUIRE_ASYNC_MODULE); a graph without one runs, here outside a worker, and fails or
    // ends as it may: only the refusal counts.
    const loaded = spawnSync(
      process.execPath,
      [
        '-e',
        `try { require(${JSON.stringify(path.join(repoRoot, file))}) } catch (error) { if (error.code === 'ERR_REQUIRE_ASYNC_MODULE') console.log('ASYNC') }`,
      ],
      { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 },
    );
    return loaded.stdout.includes('ASYNC');
  });
  expect(async, 'These harnesses have a top-level await (or import a module that has one): start their work in an async main() instead.').toEqual([]);
});
