/**
 * The kata's benchmark: `npm run bench` (full, a few minutes) or `npm run bench:quick` (a smoke run).
 * Runs every group's cases with tinybench, one at a time, printing a table per group, then writes
 * latest.json, report.md and the SVG charts. See bench/README.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { exitOnUsageError } from '../kata/cli/args.ts';
import { ensureWritable, NotWritable } from '../kata/writable.ts';
import { costsGroup } from './groups/costs.ts';
import { cpuGroup } from './groups/cpu.ts';
import { ioGroup } from './groups/io.ts';
import type { Group } from './group.ts';
import { measure, type OnSample, type Row } from './measure.ts';
import { type GroupId, type Options, parseOptions, shortUsage, usage } from './options.ts';
import { approachesChart, costsChart, speedupChart } from './report/charts.ts';
import { markdownReport } from './report/markdown.ts';
import { type GroupResult, machine, type Results, summarise } from './report/results.ts';
import { groupTable } from './report/table.ts';

let options: Options | undefined;
try {
  options = parseOptions(process.argv.slice(2));
} catch (error) {
  exitOnUsageError(error, shortUsage);
}
if (options === undefined) {
  console.log(usage);
  process.exit(0);
}
// Minutes of measuring are lost if the results cannot be written at the end: check first.
try {
  ensureWritable(options.out, 'choose a folder you can write to with --out <dir>');
} catch (error) {
  if (!(error instanceof NotWritable)) throw error;
  console.error(`npm run bench: ${error.message}`);
  process.exit(1);
}

const builders: Record<GroupId, typeof cpuGroup> = { cpu: cpuGroup, io: ioGroup, costs: costsGroup };
const plan = { quick: options.quick, samplesFactor: options.samplesFactor };
const groups: Group[] = options.groups.map((id) => builders[id](plan));

const progress = startProgress(groups);
const loadBefore = machine().load;
const started = performance.now();
console.log(`Benchmark (${options.quick ? 'quick smoke run' : 'full run'}) on ${describeMachine()}`);
if (loadBefore[0]! > 0.5) console.log(`Note: the machine is busy (load average ${loadBefore[0]!.toFixed(2)}): parallel figures will look worse than they are.`);

const results: GroupResult[] = [];
for (const group of groups) {
  const groupStarted = performance.now();
  await group.setup?.();
  const rows: Row[] = [];
  try {
    for (const c of group.cases) rows.push(await measure(c, progress.onSample(group)));
    if (group.extraRows) rows.push(...(await group.extraRows(progress.onSample(group))));
  } finally {
    await group.teardown?.();
  }
  progress.clear();
  const seconds = Math.round((performance.now() - groupStarted) / 100) / 10;
  const result: GroupResult = { id: group.id, title: group.title, workload: group.workload, rows, seconds };
  results.push(result);
  console.log(`\n${groupTable(result)}`);
}

const all: Results = {
  summary: summarise(results, {
    mode: options.quick ? 'quick' : 'full',
    durationS: (performance.now() - started) / 1000,
    loadBefore,
  }),
  generatedAt: new Date().toISOString(),
  groups: results,
};

mkdirSync(options.out, { recursive: true });
const files: Record<string, string> = {
  'latest.json': `${JSON.stringify(all, null, 2)}\n`,
  'report.md': markdownReport(all),
};
const charts = { 'speedup.svg': speedupChart(all), 'costs.svg': costsChart(all), 'approaches.svg': approachesChart(all) };
for (const [name, svg] of Object.entries(charts)) if (svg) files[name] = svg;
for (const [name, text] of Object.entries(files)) writeFileSync(path.join(options.out, name), text);

const { summary } = all;
const shown = path.relative(process.cwd(), options.out);
console.log(`\nWrote ${Object.keys(files).join(', ')} to ${shown.startsWith('..') ? options.out : shown || '.'}`);
const said = [`${summary.cores} cores`, `Node ${summary.node}`];
if (summary.cpuSpeedup !== null) said.push(`CPU speed-up ${summary.cpuSpeedup.toFixed(2)}x at ${summary.cpuSpeedupThreads} threads (ideal ${summary.cores}x)`);
if (summary.ioConcurrency !== null) said.push(`${summary.ioWaits} waits at once = ${summary.ioConcurrency.toFixed(2)}x one wait`);
console.log(`Summary: ${said.join(', ')}, took ${summary.durationS.toFixed(0)} s`);

// Everything measured has been stopped; if some handle still holds the process, do not hang on it.
setTimeout(() => {
  console.error('bench: something was still running after the results were written; exiting anyway');
  process.exit(1);
}, 5_000).unref();

function describeMachine(): string {
  const { cpu, cores, os } = machine();
  return `${cores} cores (${cpu}), ${os}, Node ${process.version}`;
}

/** A progress line on a terminal (one line per case elsewhere), with how far the whole run is. */
function startProgress(all: Group[]) {
  const total = all.reduce((sum, g) => sum + g.cases.reduce((s, c) => s + c.samples + c.warmup, 0) + (g.extraSamples ?? 0), 0);
  const tty = process.stdout.isTTY;
  let done = 0;
  let lastLabel = '';
  let lastDraw = 0;
  return {
    onSample:
      (group: Group): OnSample =>
      (label, sample, of, warmup) => {
        done += 1;
        if (!tty) {
          if (label !== lastLabel) console.log(`  measuring ${group.title}: ${label}`);
          lastLabel = label;
          return;
        }
        const now = performance.now();
        if (now - lastDraw < 100 && sample !== 1) return;
        lastDraw = now;
        const share = Math.min(1, done / total);
        const bar = '█'.repeat(Math.round(share * 20)).padEnd(20, '░');
        const elapsed = ((now - started) / 1000).toFixed(0);
        const line = `${bar} ${(share * 100).toFixed(0).padStart(3)}%  ${elapsed}s  ${warmup ? 'warm-up' : 'sample'} ${sample}/${of}  ${group.title}: ${label}`;
        process.stdout.write(`\r\x1b[2K${line.slice(0, (process.stdout.columns ?? 120) - 1)}`);
      },
    clear: () => tty && process.stdout.write('\r\x1b[2K'),
  };
}
