/**
 * The distributions behind every bound the tests compare a figure against, from the measures
 * that runs with KATA_MEASURES recorded (kata/testing/measure.ts): for each check, what the
 * answers that must pass it (the solution, the right fixtures) measured, and what the wrong
 * answers it rejected measured, and how far each side stayed from the bound.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Measure } from './testing/measure.ts';

type Kind = 'pass' | 'wrong' | 'stub';

/** Which kind of answer a measure came from, by the folder it ran against. */
function kindOf(target: string): Kind {
  const name = path.basename(target);
  if (name.startsWith('wrong-')) return 'wrong';
  if (name === 'exercises') return 'stub';
  return 'pass';
}

export function readMeasures(files: string[]): Measure[] {
  return files.flatMap((file) => {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as Measure];
        } catch {
          return []; // a line cut short by a killed run
        }
      });
  });
}

/** How many times inside the bound a value stays: 2 means a factor of two to spare; below 1, it failed. */
function margin(measure: Pick<Measure, 'value' | 'bound' | 'side'>): number {
  const { value, bound, side } = measure;
  if (side === 'max') return value <= 0 ? Number.POSITIVE_INFINITY : bound / value;
  return bound <= 0 ? Number.POSITIVE_INFINITY : value / bound;
}

const passes = (measure: Measure) => (measure.side === 'max' ? measure.value <= measure.bound : measure.value >= measure.bound);

export interface ThresholdRow {
  check: string;
  bound: string;
  pass: { n: number; min: number; median: number; max: number; margin: number };
  /** Wrong answers this check rejected: how many, and the one that came closest to passing. */
  rejected: { n: number; closest?: number; margin?: number };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function thresholdRows(measures: Measure[]): ThresholdRow[] {
  const byCheck = new Map<string, Measure[]>();
  for (const measure of measures) {
    if (kindOf(measure.target) === 'stub') continue;
    byCheck.set(measure.check, [...(byCheck.get(measure.check) ?? []), measure]);
  }
  return [...byCheck].map(([check, all]) => {
    const passing = all.filter((measure) => kindOf(measure.target) === 'pass');
    const rejected = all.filter((measure) => kindOf(measure.target) === 'wrong' && !passes(measure));
    const values = passing.map((measure) => measure.value);
    const bounds = [...new Set(all.map((measure) => measure.bound))];
    const closest = rejected.sort((a, b) => margin(b) - margin(a))[0];
    return {
      check,
      bound: `${all[0]!.side === 'max' ? '≤' : '≥'} ${bounds.length === 1 ? format(bounds[0]!) : `${format(Math.min(...bounds))}-${format(Math.max(...bounds))}`}`,
      pass: {
        n: passing.length,
        min: values.length ? Math.min(...values) : Number.NaN,
        median: values.length ? median(values) : Number.NaN,
        max: values.length ? Math.max(...values) : Number.NaN,
        margin: passing.length ? Math.min(...passing.map(margin)) : Number.NaN,
      },
      rejected: { n: rejected.length, closest: closest?.value, margin: closest && 1 / margin(closest) },
    };
  });
}

function format(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return '-';
  if (!Number.isFinite(value)) return '∞';
  const abs = Math.abs(value);
  if (abs !== 0 && abs < 0.01) return value.toExponential(1);
  return abs >= 100 ? value.toFixed(0) : abs >= 10 ? value.toFixed(1) : value.toFixed(2);
}

/**
 * A Markdown table, closest margins first. "Spare" is how many times inside its bound the answer
 * that came closest stayed: for the right answers, bound ÷ worst value (or worst ÷ bound for a
 * minimum); for the wrong answers it rejected, how many times past the bound the closest one was.
 * Deadlines (`within`) are listed only where a right answer came within a factor of 4.
 */
export function thresholdTable(rows: ThresholdRow[]): string {
  const shown = rows.filter((row) => !row.check.startsWith('deadline ') || row.pass.margin < 4).sort((a, b) => a.pass.margin - b.pass.margin);
  const hidden = rows.length - shown.length;
  const lines = [
    '| check | bound | right: n | min | median | max | spare | wrong rejected: n | closest | spare |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...shown.map(
      (row) =>
        `| ${row.check.replaceAll('|', '\\|')} | ${row.bound} | ${row.pass.n} | ${format(row.pass.min)} | ${format(row.pass.median)} | ` +
        `${format(row.pass.max)} | ${format(row.pass.margin)}x | ${row.rejected.n} | ${format(row.rejected.closest)} | ` +
        `${row.rejected.margin === undefined ? '-' : `${format(row.rejected.margin)}x`} |`,
    ),
  ];
  if (hidden > 0) lines.push('', `${hidden} more deadlines (within) whose right answers all stayed at least 4x inside them.`);
  return lines.join('\n');
}
