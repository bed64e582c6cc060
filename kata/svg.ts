/** What the timeline pictures (kata/testing/timeline.ts) and the bench's charts (bench/report/charts.ts) share. */

/** Text made safe for SVG, in an element or in a quoted attribute. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A coordinate to one decimal: enough for a picture, and short. */
export function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

/** The smallest 1, 2 or 5 times a power of ten that is at least `rough`: a step between axis ticks. */
export function niceStep(rough: number): number {
  // A range of 0 (one sample, or all equal) still gets a step, never 0 or NaN.
  const power = 10 ** Math.floor(Math.log10(Math.max(rough, 1e-3)));
  return [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= rough)!;
}
