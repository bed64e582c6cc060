/**
 * The benchmarks still run: `npm run bench:quick` into a temporary folder, then a look at what it
 * wrote (every row sampled, finite figures, the summary, the charts). Exit 0 passed, 1 failed.
 * Figures are not judged here: they depend on the machine and on what else it is doing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Results } from '../../bench/report/results.ts';
import { cleanUpOnExit } from '../cleanup.ts';
import { repoRoot } from '../paths.ts';

// The pid in the name lets a later run sweep this folder if this one is killed (kata/cleanup.ts).
const out = mkdtempSync(path.join(tmpdir(), `kata-bench-quick-${process.pid}-`));
cleanUpOnExit(() => rmSync(out, { recursive: true, force: true }));
const started = performance.now();
// A guard against a hang, not a judge of speed: beside verify's lanes it took 51 to 102 s, and beside a CPU hog
// too it passed 120 s twice (stress --verify); 8 minutes leaves four times the room.
const run = spawnSync(process.execPath, [path.join(repoRoot, 'bench/run.ts'), '--quick', '--out', out], { encoding: 'utf8', cwd: repoRoot, timeout: 480_000 });
const seconds = (performance.now() - started) / 1000;
const problems: string[] = [];

if (run.error) problems.push(`bench:quick did not finish: ${run.error.message}`);
else if (run.status !== 0) problems.push(`bench:quick exited with ${run.status ?? run.signal}:\n${run.stdout}${run.stderr}`);
else {
  const results = JSON.parse(readFileSync(path.join(out, 'latest.json'), 'utf8')) as Results;
  const { summary } = results;
  for (const key of ['cores', 'cpuSpeedup', 'ioConcurrency'] as const) {
    if (!Number.isFinite(summary[key]) || summary[key]! <= 0) problems.push(`summary.${key} is ${summary[key]}`);
  }
  if (!summary.node || !summary.machine?.cpu || !summary.machine?.os) problems.push('the summary does not name the Node version and the machine');
  for (const group of results.groups) {
    if (group.rows.length === 0) problems.push(`group ${group.id} has no rows`);
    for (const row of group.rows) {
      const { median, min, max, samples } = row.stats;
      if (!(samples >= 3 && min > 0 && min <= median && median <= max && Number.isFinite(max))) {
        problems.push(`${group.id} / ${row.label}: implausible figures ${JSON.stringify(row.stats)}`);
      }
    }
  }
  for (const file of ['report.md', 'speedup.svg', 'costs.svg', 'approaches.svg']) {
    if (!existsSync(path.join(out, file))) problems.push(`${file} was not written`);
  }
  if (problems.length === 0) {
    const rows = results.groups.reduce((sum, group) => sum + group.rows.length, 0);
    const slow = seconds > 30 ? ' (over its 30 s budget: is the machine busy?)' : '';
    console.log(
      `bench:quick measured ${rows} rows in ${seconds.toFixed(0)} s${slow}: CPU speed-up ${summary.cpuSpeedup!.toFixed(2)}x ` +
        `on ${summary.cores} cores, ${summary.ioWaits} waits at once ${summary.ioConcurrency!.toFixed(2)}x one wait`,
    );
  }
}
rmSync(out, { recursive: true, force: true });
if (problems.length > 0) {
  console.log(problems.join('\n'));
  process.exit(1);
}
