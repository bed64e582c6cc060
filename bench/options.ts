import path from 'node:path';
import { decimalNumber, parseCommandLine, UsageError } from '../kata/cli/args.ts';
import { repoRoot, stateDir } from '../kata/paths.ts';

export const groupIds = ['cpu', 'io', 'costs'] as const;
export type GroupId = (typeof groupIds)[number];

export interface Options {
  quick: boolean;
  groups: GroupId[];
  /** Multiplies every sample count (at least 3 samples per row are always taken). */
  samplesFactor: number;
  out: string;
}

export const usage = `Usage: npm run bench [-- options]        (npm run bench:quick is npm run bench -- --quick)

Measures the kata's concurrency tools side by side on this machine: CPU-bound work (sequential,
Promise.all, workers, pools, processes), I/O-bound work (timers and loopback HTTP: sequential,
Promise.all, bounded, workers, processes) and the costs (start-up, messages, memory, increments).
Prints a table, and writes latest.json, report.md and SVG charts.

Options:
  --quick             a smoke run: less work and fewer samples (under 30 s); writes to .kata/bench-quick/
  --only <groups>     comma-separated, from: ${groupIds.join(', ')} (default: all)
  --samples <factor>  multiply the number of samples per row by this number, 0.1 to 10 (default: 1)
  --out <dir>         where to write the results (default: bench/results/, or .kata/bench-quick/ with --quick)
  -h, --help          show this help

Run it on a quiet machine: other programs using the CPU make every parallel figure look worse.`;

/** One line, for when the arguments were wrong. */
export const shortUsage = `Usage: npm run bench [-- --quick] [--only ${groupIds.join(',')}] [--samples <0.1-10>] [--out <dir>]   (--help says more)`;

/** Parses the command line; throws a UsageError that says what was wrong. Returns undefined for --help. */
export function parseOptions(args: string[]): Options | undefined {
  const parsed = parseCommandLine({
    args,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      samples: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: false,
    strict: true,
  });
  const { values } = parsed;
  if (values.help) return undefined;

  const groups = values.only === undefined ? [...groupIds] : values.only.split(',').map((id) => id.trim());
  const unknown = groups.filter((id) => !(groupIds as readonly string[]).includes(id));
  if (unknown.length > 0 || groups.length === 0) {
    throw new UsageError(`--only takes group names from ${groupIds.join(', ')}, not "${values.only}"`);
  }

  const samplesFactor = values.samples === undefined ? 1 : decimalNumber(values.samples, '--samples', { min: 0.1, max: 10 });

  if (values.out !== undefined && values.out.trim() === '') throw new UsageError('--out needs a folder');
  const out = path.resolve(values.out ?? (values.quick ? path.join(stateDir, 'bench-quick') : path.join(repoRoot, 'bench/results')));
  return { quick: values.quick, groups: groups as GroupId[], samplesFactor, out };
}
