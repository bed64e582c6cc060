import type { GroupId } from './options.ts';
import type { Case, OnSample, Row } from './measure.ts';

/** How big a run is: the quick smoke run does less work and takes fewer samples. */
export interface Plan {
  quick: boolean;
  samplesFactor: number;
}

/** A number of samples: `full` normally, `quick` in a smoke run, scaled by --samples, never below 3. */
export const samples = (plan: Plan, full: number, quick: number) => Math.max(3, Math.round((plan.quick ? quick : full) * plan.samplesFactor));

/** A family of rows measured on the same workload and shown together. */
export interface Group {
  id: GroupId;
  title: string;
  /** What the rows measure, in a sentence, for the table's heading and the report. */
  workload: string;
  cases: Case[];
  /** Rows measured by hand rather than timed (memory), after the timed cases, and their samples in all. */
  extraRows?: (onSample: OnSample) => Promise<Row[]>;
  extraSamples?: number;
  setup?: () => Promise<void>;
  teardown?: () => Promise<void>;
}

/** 1, 2, 4, ... up to the core count, the core count itself, and twice it (more threads than cores). */
export function threadCounts(cores: number): number[] {
  const counts = new Set<number>();
  for (let n = 1; n <= cores; n *= 2) counts.add(n);
  counts.add(cores);
  counts.add(cores * 2);
  return [...counts].sort((a, b) => a - b);
}
