import type { Row } from '../measure.ts';
import { formatValue, times } from './format.ts';
import type { GroupResult } from './results.ts';

/** The comparison a row's last column shows: speed-up over the sequential loop, or cost in one-wait units. */
export function comparison(group: GroupResult, row: Row): string {
  if (group.id === 'cpu') {
    const sequential = group.rows.find((r) => r.id === 'sequential');
    return sequential ? `${times(sequential.stats.median / row.stats.median)} speed-up` : '';
  }
  if (group.id === 'io') {
    const kind = row.id.split('-')[0];
    const one = group.rows.find((r) => r.id === `${kind}-one`);
    const compared = one && one !== row ? `${times(row.stats.median / one.stats.median)} one wait` : '';
    return [compared, row.note].filter(Boolean).join('; ');
  }
  return row.note ?? '';
}

/** The rows of a group as cells: approach, the spread of its samples, and the comparison. */
export function tableCells(group: GroupResult): string[][] {
  const header = ['approach', 'median', 'p75', 'p99', 'min', 'max', '±rme', 'n', group.id === 'costs' ? 'note' : 'compared'];
  const rows = group.rows.map((row) => {
    const { median, p75, p99, min, max, rme, samples } = row.stats;
    const value = (v: number) => formatValue(v, row.unit);
    return [row.label, value(median), value(p75), value(p99), value(min), value(max), `${rme.toFixed(1)}%`, String(samples), comparison(group, row)];
  });
  return [header, ...rows];
}

/** A group as an aligned text table for the terminal. */
export function groupTable(group: GroupResult): string {
  const cells = tableCells(group);
  const widths = cells[0]!.map((_, column) => Math.max(...cells.map((row) => row[column]!.length)));
  const line = (row: string[]) =>
    row
      .map((cell, column) => (column === 0 || column === row.length - 1 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join('  ')
      .trimEnd();
  const [header, ...rows] = cells;
  return [
    `${group.title}: ${group.workload} (measured in ${group.seconds} s)`,
    line(header!),
    widths.map((w) => '─'.repeat(w)).join('  '),
    ...rows.map(line),
  ].join('\n');
}
