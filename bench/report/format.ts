import type { Unit } from '../measure.ts';

/** A value with 3 significant figures (more for big numbers), and its unit. */
export function formatValue(value: number, unit: Unit): string {
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${unit}`;
}

/** Any duration in ms, in the unit that suits it: 12 ns, 3.4 µs, 56 ms, 1.2 s. */
export function formatDurationMs(ms: number): string {
  if (ms >= 1000) return formatValue(ms / 1000, 'ms').replace(' ms', ' s');
  if (ms >= 1) return formatValue(ms, 'ms');
  if (ms >= 1e-3) return formatValue(ms * 1e3, 'µs');
  return formatValue(ms * 1e6, 'ns');
}

export const times = (value: number) => `${value.toFixed(2)}x`;
