import { formatValue } from './format.ts';
import { findRow, type Results } from './results.ts';
import { tableCells } from './table.ts';

const mdTable = (cells: string[][]) => {
  const [header, ...rows] = cells;
  const line = (row: string[]) => `| ${row.map((cell) => cell.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header!), `|${header!.map((_, i) => (i === 0 || i === header!.length - 1 ? ' --- ' : ' ---: ')).join('|')}|`, ...rows.map(line)].join('\n');
};

/** The results as a Markdown page: the summary, the article's table with these figures, every group's table, the charts. */
export function markdownReport(results: Results): string {
  const { summary } = results;
  const at = (id: string) => {
    const row = findRow(results.groups, id);
    return row ? formatValue(row.stats.median, row.unit) : 'not measured';
  };
  const speedup = (id: string) => {
    const sequential = findRow(results.groups, 'sequential');
    const row = findRow(results.groups, id);
    return sequential && row ? `${(sequential.stats.median / row.stats.median).toFixed(2)}x` : 'not measured';
  };
  const oneWait = (id: string) => {
    const one = findRow(results.groups, 'timer-one');
    const row = findRow(results.groups, id);
    return one && row ? `${(row.stats.median / one.stats.median).toFixed(2)}x one wait` : 'not measured';
  };
  const cores = summary.cores;
  const lines = [
    '# Benchmark results',
    '',
    `${summary.mode === 'full' ? 'A full run' : 'A quick smoke run'} of \`npm run bench\` on ${results.generatedAt.slice(0, 16).replace('T', ' ')} UTC, ` +
      `took ${summary.durationS.toFixed(0)} s.`,
    '',
    `- Machine: ${summary.cores} cores (${summary.machine.cpu}), ${summary.machine.memoryGB} GB, ${summary.machine.os}`,
    `- Node.js ${summary.node}; load average before the run ${summary.loadBefore.join(' / ')} (1 / 5 / 15 min), after ${summary.loadAfter.join(' / ')}`,
    `- **CPU speed-up** of a warm pool of ${summary.cpuSpeedupThreads} threads over a sequential loop: **${summary.cpuSpeedup?.toFixed(2) ?? 'n/a'}x** (ideal: ${cores}x)`,
    `- **I/O overlap**: ${summary.ioWaits} waits at once take **${summary.ioConcurrency?.toFixed(2) ?? 'n/a'}x** the time of one wait (HTTP requests: ${summary.ioConcurrencyHttp?.toFixed(2) ?? 'n/a'}x; 1.00x is perfect)`,
    '',
    'Every row is the spread of its samples: median, 75th and 99th percentile, fastest, slowest, and the 95% margin of error of the mean (±rme). ' +
      'Other programs using the CPU during the run make every parallel figure look worse, never better.',
    '',
    "## The article's table, for Node.js, with these figures",
    '',
    '| | async/await (the event loop) | worker_threads | child_process |',
    '| --- | --- | --- | --- |',
    '| Module | built in: promises, `fetch`, `node:timers/promises`, `fs/promises` | `node:worker_threads` (pools: piscina) | `node:child_process` (`fork`) |',
    '| Memory | one heap, one thread: nothing to share or lock | a heap per thread; share only a SharedArrayBuffer (Atomics, locks) or move buffers | a process each: nothing shared, messages only |',
    '| Best for | waits with an async API, thousands at once (network, timers, files) | CPU work; calls that block a thread | CPU work that must be isolated; other programs |',
    `| CPU parallelism | no: one thread (Promise.all of CPU work: ${speedup('promise-all')}) | yes (warm pool at ${cores}: ${speedup(`pool-${cores}`)}) | yes (warm process pool at ${cores}: ${speedup('process-pool')}) |`,
    '| Difficulty | low to medium (never block the loop) | medium (messages, shared memory, races) | medium (IPC, exit codes, orphans) |',
    `| Start-up | none: a promise | ${at('worker-startup')} per worker | ${at('fork-startup')} per process |`,
    `| Memory each | a few KB per pending wait | ${at('worker-memory')} per idle worker | ${at('child-memory')} per idle child |`,
    `| A message there and back | none needed | ${at('worker-round-trip')} | ${at('child-round-trip')} |`,
    `| ${summary.ioWaits} waits at once | ${oneWait('timer-promise-all')} | ${oneWait('timer-workers')} (a worker each) | ${oneWait('timer-processes')} (a process each) |`,
    '',
    '## Charts',
    '',
    '![Speed-up against threads, beside the ideal line for this machine](speedup.svg)',
    '',
    '![What concurrency costs: start-up, round trips, increments (log scale), memory](costs.svg)',
    '',
    '![Every approach on each workload: wall time per run](approaches.svg)',
    '',
  ];
  for (const group of results.groups) {
    lines.push(`## ${group.title}`, '', group.workload, '', mdTable(tableCells(group)), '');
  }
  return `${lines.join('\n')}`;
}
