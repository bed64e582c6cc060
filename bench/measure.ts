import { Bench, type FnReturnedObject } from 'tinybench';

/** The spread of a row's samples, in the row's unit. rme: the 95% margin of error of the mean, in %. */
export interface Stats {
  median: number;
  p75: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
  rme: number;
  samples: number;
}

export type Unit = 'ns' | 'µs' | 'ms' | 'MB';

/** One approach measured: what one sample does, and how to read its time. */
export interface Case {
  id: string;
  label: string;
  unit: Unit;
  samples: number;
  warmup: number;
  /** Operations in one sample: the row reports the time per operation (e.g. per increment). */
  perSample?: number;
  /** Runs before the warm-up (start a pool) and after the last sample (close it), untimed. */
  setup?: () => Promise<void> | void;
  teardown?: () => Promise<void> | void;
  /** One sample. May return `{ overriddenDuration }` (ms) when it times itself. */
  run: () => unknown;
  /** A short note for the report, filled in after the run (e.g. lost updates). */
  note?: () => string | undefined;
}

export interface Row {
  id: string;
  label: string;
  unit: Unit;
  stats: Stats;
  note?: string;
}

/** Called before every sample, warm-up included, so the terminal can show where the run is. */
export type OnSample = (label: string, sample: number, of: number, warmup: boolean) => void;

/** Milliseconds in one of each time unit. */
export const toMs: Record<Exclude<Unit, 'MB'>, number> = { ns: 1e-6, µs: 1e-3, ms: 1 };

/** Measures one case with tinybench: its warm-up, then exactly `samples` timed samples. */
export async function measure(c: Case, onSample: OnSample): Promise<Row> {
  if (c.unit === 'MB') throw new Error(`${c.id}: memory is sampled with sampleValues(), not timed`);
  await c.setup?.();
  try {
    let calls = 0;
    const bench = new Bench({
      // time 0: the counts alone decide, so every row gets the same number of samples on any machine.
      time: 0,
      iterations: c.samples,
      warmupTime: 0,
      warmupIterations: c.warmup,
      warmup: c.warmup > 0,
      throws: true,
      retainSamples: true,
    });
    bench.add(
      c.label,
      () => {
        const warmup = calls < c.warmup;
        onSample(c.label, (warmup ? calls : calls - c.warmup) + 1, warmup ? c.warmup : c.samples, warmup);
        calls += 1;
        return c.run() as FnReturnedObject | Promise<FnReturnedObject>;
      },
      // Said outright, so tinybench does not call the function an extra time to find out.
      { async: true },
    );
    const [task] = await bench.run();
    const result = task!.result;
    if (result.state !== 'completed') throw new Error(`${c.label}: the benchmark ended as ${result.state}`);
    // tinybench's statistics are in ms per sample; a change of unit scales every one of them alike.
    const scale = 1 / toMs[c.unit] / (c.perSample ?? 1);
    const { p50, p75, p99, min, max, mean, rme, samplesCount } = result.latency;
    const stats = {
      median: p50 * scale,
      p75: p75 * scale,
      p99: p99 * scale,
      min: min * scale,
      max: max * scale,
      mean: mean * scale,
      rme,
      samples: samplesCount,
    };
    return { id: c.id, label: c.label, unit: c.unit, stats, note: c.note?.() };
  } finally {
    await c.teardown?.();
  }
}

/** Stats of values measured by hand (memory), computed the same way as tinybench's. */
export function statsOf(values: readonly number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) throw new Error('no samples');
  const quantile = (q: number) => {
    const at = (n - 1) * q;
    const low = Math.floor(at);
    return sorted[low]! + (sorted[Math.min(low + 1, n - 1)]! - sorted[low]!) * (at - low);
  };
  const mean = sorted.reduce((sum, v) => sum + v, 0) / n;
  const sd = n > 1 ? Math.sqrt(sorted.reduce((sum, v) => sum + (v - mean) ** 2, 0) / (n - 1)) : 0;
  const rme = mean === 0 ? 0 : (100 * tCritical95(n - 1) * (sd / Math.sqrt(n))) / mean;
  return { median: quantile(0.5), p75: quantile(0.75), p99: quantile(0.99), min: sorted[0]!, max: sorted[n - 1]!, mean, rme, samples: n };
}

/** Two-sided 95% critical value of Student's t (a table, then the normal limit). */
function tCritical95(df: number): number {
  const table = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086];
  if (df < 1) return 0;
  if (df <= table.length) return table[df - 1]!;
  return df < 60 ? 2.0 : 1.96;
}
