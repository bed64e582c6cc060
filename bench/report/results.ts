import { availableParallelism, cpus, loadavg, release, totalmem, type as osType, arch } from 'node:os';
import type { GroupId } from '../options.ts';
import type { Row } from '../measure.ts';

export interface GroupResult {
  id: GroupId;
  title: string;
  workload: string;
  rows: Row[];
  /** How long the group took to measure. */
  seconds: number;
}

export interface Machine {
  cpu: string;
  cores: number;
  os: string;
  memoryGB: number;
  /** 1, 5 and 15 minute load averages. */
  load: number[];
}

/** Speed-up of the warm pool at `threads`, over the sequential loop (medians), with its range. */
export interface SpeedupPoint {
  threads: number;
  speedup: number;
  /** Over the pool's 99th percentile and fastest sample. */
  low: number;
  high: number;
}

export interface Summary {
  cores: number;
  /** The warm pool at `cpuSpeedupThreads` (the core count) over the sequential loop, medians. */
  cpuSpeedup: number | null;
  cpuSpeedupThreads: number;
  /** `ioWaits` timer waits at once (Promise.all) over one wait alone, medians: 1.0 is perfect overlap. */
  ioConcurrency: number | null;
  /** The same for HTTP requests to the loopback server. */
  ioConcurrencyHttp: number | null;
  ioWaits: number;
  node: string;
  machine: Machine;
  mode: 'full' | 'quick';
  durationS: number;
  loadBefore: number[];
  loadAfter: number[];
  speedupByThreads: SpeedupPoint[];
}

export interface Results {
  summary: Summary;
  generatedAt: string;
  groups: GroupResult[];
}

export function machine(): Machine {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    os: `${osType()} ${release()} ${arch()}`,
    memoryGB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    load: loadavg().map((value) => Math.round(value * 100) / 100),
  };
}

export function findRow(groups: readonly GroupResult[], id: string): Row | undefined {
  for (const group of groups) {
    const row = group.rows.find((r) => r.id === id);
    if (row) return row;
  }
  return undefined;
}

const ratio = (a: Row | undefined, b: Row | undefined) => (a && b ? a.stats.median / b.stats.median : null);

export function summarise(groups: readonly GroupResult[], run: { mode: 'full' | 'quick'; durationS: number; loadBefore: number[] }): Summary {
  const cores = availableParallelism();
  const sequential = findRow(groups, 'sequential');
  const speedupByThreads = (groups.find((g) => g.id === 'cpu')?.rows ?? [])
    .filter((row) => row.id.startsWith('pool-'))
    .map((row) => ({
      threads: Number(row.id.slice('pool-'.length)),
      speedup: sequential!.stats.median / row.stats.median,
      low: sequential!.stats.median / row.stats.p99,
      high: sequential!.stats.median / row.stats.min,
    }));
  const waits = /(\d+) at once/.exec(findRow(groups, 'timer-promise-all')?.label ?? '')?.[1];
  const { load, ...rest } = machine();
  return {
    cores,
    cpuSpeedup: ratio(sequential, findRow(groups, `pool-${cores}`)),
    cpuSpeedupThreads: cores,
    ioConcurrency: ratio(findRow(groups, 'timer-promise-all'), findRow(groups, 'timer-one')),
    ioConcurrencyHttp: ratio(findRow(groups, 'http-promise-all'), findRow(groups, 'http-one')),
    ioWaits: Number(waits ?? 0),
    node: process.version,
    machine: { ...rest, load },
    mode: run.mode,
    durationS: Math.round(run.durationS * 10) / 10,
    loadBefore: run.loadBefore,
    loadAfter: load,
    speedupByThreads,
  };
}
