import { threadId } from 'node:worker_threads';
import { escapeXml, niceStep, round1 as r } from '../svg.ts';

/** One task's life: when it started and ended (ms since the timeline began) and where it ran. */
export interface Span {
  label: string;
  start: number;
  end?: number;
  threadId: number;
  pid: number;
}

/**
 * Records when tasks start and end. The deterministic facts the tests assert on (how many ran
 * at once, in which order they finished) come from here, and so do the timeline pictures.
 */
export class Timeline {
  readonly spans: Span[] = [];
  readonly origin = performance.now();
  #running = 0;
  #maxInFlight = 0;

  constructor() {
    // The setup file attaches every timeline a test creates to that test, as a picture.
    collector().current?.push(this);
  }

  /** The most tasks that were ever running at the same moment. */
  get maxInFlight(): number {
    return this.#maxInFlight;
  }

  get running(): number {
    return this.#running;
  }

  now(): number {
    return performance.now() - this.origin;
  }

  /** Marks `label` as started (here, or where `at` says); call the returned function when it ends. */
  begin(label: string, at: { threadId?: number; pid?: number } = {}): () => Span {
    const span: Span = { label, start: this.now(), threadId: at.threadId ?? threadId, pid: at.pid ?? process.pid };
    this.spans.push(span);
    this.#running += 1;
    this.#maxInFlight = Math.max(this.#maxInFlight, this.#running);
    return () => {
      span.end ??= ((this.#running -= 1), this.now());
      return span;
    };
  }

  /** Runs `work` as a span named `label`. */
  async run<T>(label: string, work: () => Promise<T>): Promise<T> {
    const end = this.begin(label);
    try {
      return await work();
    } finally {
      end();
    }
  }

  /** Labels in the order their spans ended. */
  finishOrder(): string[] {
    return this.spans
      .filter((s) => s.end !== undefined)
      .sort((a, b) => a.end! - b.end!)
      .map((s) => s.label);
  }

  unfinished(): string[] {
    return this.spans.filter((s) => s.end === undefined).map((s) => s.label);
  }

  /** A compact text picture, one row per span, for failure messages. */
  toText(width = 50): string {
    const last = Math.max(1, ...this.spans.map((s) => s.end ?? this.now()));
    const scale = width / last;
    // Name the thread or process only when there is more than one to tell apart.
    const where = placesOf(this.spans).length > 1 ? (s: Span) => `  ${placeName(s)}` : () => '';
    // A label that comes back (a task retried, two workers both called "worker") gets its count,
    // so that no two rows read the same.
    const seen = new Map<string, number>();
    const names = this.spans.map((s) => {
      const count = (seen.get(s.label) ?? 0) + 1;
      seen.set(s.label, count);
      return count === 1 ? s.label : `${s.label} #${count}`;
    });
    const rows = this.spans.map((s, index) => {
      const from = Math.round(s.start * scale);
      const to = Math.max(from + 1, Math.round((s.end ?? last) * scale));
      const bar = ' '.repeat(from) + (s.end === undefined ? '>'.repeat(to - from) : '#'.repeat(to - from));
      return `  ${names[index]!.padEnd(12)} |${bar.padEnd(width)}| ${fmt(s.start)}-${s.end === undefined ? 'still running' : fmt(s.end)}${where(s)}`;
    });
    return [`  timeline (0 to ${fmt(last)}):`, ...rows].join('\n');
  }

  /** One line: how many tasks, how many at once, on which threads or processes, how long. */
  summary(): string {
    const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
    const places = placesOf(this.spans).map(([, name]) => name);
    const processes = places.filter((name) => name.startsWith('process')).length;
    let where: string;
    if (places.length === 1) where = places[0] === 'test thread' ? 'the test thread' : places[0]!;
    else if (processes === places.length) where = count(places.length, 'process', 'processes');
    else if (processes === 0) where = count(places.length, 'thread', 'threads');
    else where = `${count(places.length - processes, 'thread', 'threads')} and ${count(processes, 'process', 'processes')}`;
    const last = Math.max(0, ...this.spans.map((s) => s.end ?? this.now()));
    const running = this.unfinished().length;
    return `${count(this.spans.length, 'task', 'tasks')}, at most ${this.#maxInFlight} at once, on ${where}, ${fmt(last)}${running ? `, ${running} still running` : ''}`;
  }

  /**
   * The timeline as an SVG picture: a band per thread or process, a bar per task (tasks that
   * overlap get rows of their own), a time axis in ms, and a strip showing how many ran at once.
   */
  toSvg(): string {
    return renderSvg(this);
  }
}

const fmt = (ms: number) => `${Math.round(ms)} ms`;

/** Where a span ran, as a key and a name a learner recognises. */
function placeName(span: Span): string {
  if (span.pid !== process.pid) return span.threadId === 0 ? `process ${span.pid}` : `process ${span.pid} thread ${span.threadId}`;
  return span.threadId === threadId ? 'test thread' : `thread ${span.threadId}`;
}

/** The distinct places spans ran, in order of first appearance: [key, name]. */
function placesOf(spans: Span[]): Array<[string, string]> {
  const seen = new Map<string, string>();
  for (const span of spans) seen.set(`${span.pid}/${span.threadId}`, placeName(span));
  return [...seen];
}

// ---------------------------------------------------------------------------------------------
// Collecting the timelines of the running test (used by kata/vitest/setup.ts)

const collectorKey = Symbol.for('concurrency-kata.timelines');
const collector = () => ((globalThis as { [collectorKey]?: { current?: Timeline[] } })[collectorKey] ??= {});

/** Starts collecting every Timeline created from now on; the returned function stops and hands them over. */
export function collectTimelines(): () => Timeline[] {
  const collected: Timeline[] = [];
  collector().current = collected;
  return () => {
    if (collector().current === collected) collector().current = undefined;
    return collected;
  };
}

// ---------------------------------------------------------------------------------------------
// The SVG picture

const palette = ['#2563eb', '#16a34a', '#ea580c', '#9333ea', '#0891b2', '#db2777', '#65a30d', '#b45309'];
const picture = { width: 600, labels: 118, right: 14, top: 30, bar: 14, gap: 4, placePad: 6, strip: 34, axis: 26 };

function renderSvg(timeline: Timeline): string {
  const { width, labels, right, top, bar, gap, placePad, strip, axis } = picture;
  const now = timeline.now();
  const last = Math.max(1, ...timeline.spans.map((s) => s.end ?? now));
  const plot = width - labels - right;
  const x = (ms: number) => labels + (ms / last) * plot;
  // Drawn in this order: the bands behind each place, then grid lines, then the bars and text on top.
  const backgrounds: string[] = [];
  const grid: string[] = [];
  const parts: string[] = [];
  let y = top;

  placesOf(timeline.spans).forEach(([key, name], placeIndex) => {
    const color = palette[placeIndex % palette.length]!;
    const rows = packRows(
      timeline.spans.filter((s) => `${s.pid}/${s.threadId}` === key),
      now,
    );
    const height = rows.length * (bar + gap) - gap + 2 * placePad;
    backgrounds.push(`<rect x="0" y="${y}" width="${width}" height="${height}" fill="${placeIndex % 2 ? '#f8fafc' : '#f1f5f9'}"/>`);
    parts.push(`<text x="8" y="${y + placePad + bar - 3}" class="place">${escapeXml(name)}</text>`);
    rows.forEach((row, rowIndex) => {
      const rowY = y + placePad + rowIndex * (bar + gap);
      // Where the last label of this row ended: labels never overlap each other or other bars.
      let textEnd = 0;
      row.forEach((span, index) => {
        const from = x(span.start);
        // A pixel's gap keeps back-to-back tasks apart.
        const to = Math.max(from + 2, x(span.end ?? now) - 1);
        const nextFrom = index + 1 < row.length ? x(row[index + 1]!.start) : width;
        const open = span.end === undefined;
        const label = `${span.label}${open ? ' (still running)' : ''}`;
        parts.push(
          `<rect x="${r(from)}" y="${rowY}" width="${r(to - from)}" height="${bar}" rx="3" fill="${color}"${open ? ' fill-opacity="0.35" stroke-dasharray="4 2"' : ''} stroke="${color}">` +
            `<title>${escapeXml(`${label}: ${fmt(span.start)} to ${open ? 'still running' : fmt(span.end!)}`)}</title></rect>`,
        );
        // A label goes inside its bar when it fits (about 6 px a character), else beside it where
        // there is room, else nowhere (the bar and the summary still tell the story).
        const textWidth = label.length * 6 + 6;
        const textY = rowY + bar - 3;
        if (to - from > textWidth && from >= textEnd) {
          parts.push(`<text x="${r(from + 4)}" y="${textY}" class="in">${escapeXml(label)}</text>`);
          textEnd = from + textWidth;
        } else if (to + 3 >= textEnd && to + textWidth < Math.min(nextFrom, width)) {
          parts.push(`<text x="${r(to + 3)}" y="${textY}" class="out">${escapeXml(label)}</text>`);
          textEnd = to + textWidth;
        } else if (index === 0 && from - textWidth >= labels) {
          parts.push(`<text x="${r(from - 3)}" y="${textY}" class="out" text-anchor="end">${escapeXml(label)}</text>`);
        }
      });
    });
    y += height;
  });

  // How many tasks were running at each moment: a flat line at 1 is sequential work.
  // Changes closer than half a pixel are drawn as one (a task that starts as another ends).
  const steps = inFlightSteps(timeline.spans, now).filter(([at], i, all) => i === all.length - 1 || x(all[i + 1]![0]) - x(at) >= 0.5);
  const peak = Math.max(1, ...steps.map(([, n]) => n));
  const base = y + strip - 4;
  const level = (n: number) => base - (n / peak) * (strip - 10);
  let path = `M${r(x(0))},${base}`;
  for (const [at, n] of steps) path += ` H${r(x(at))} V${r(level(n))}`;
  path += ` H${r(x(last))} V${base} Z`;
  parts.push(
    `<text x="8" y="${y + 16}" class="place">in flight</text>`,
    `<text x="8" y="${y + 28}" class="note">peak ${peak}</text>`,
    `<path d="${path}" fill="#64748b" fill-opacity="0.35" stroke="#475569"/>`,
  );
  y += strip;

  // Time axis with round ticks (1, 2 or 5 times a power of ten ms).
  const step = niceStep(last / 6);
  parts.push(`<line x1="${labels}" y1="${y}" x2="${width - right}" y2="${y}" stroke="#94a3b8"/>`);
  for (let ms = 0; ms <= last + 1e-9; ms += step) {
    const tx = r(x(ms));
    grid.push(`<line x1="${tx}" y1="${top}" x2="${tx}" y2="${y + 4}" stroke="#cbd5e1" stroke-width="0.5"/>`);
    parts.push(`<text x="${tx}" y="${y + 16}" class="tick">${Math.round(ms)}</text>`);
  }
  parts.push(`<text x="8" y="${y + 16}" class="note">time in ms</text>`);
  const height = y + axis;

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="11">`,
    '<style>.place{fill:#0f172a;font-weight:600}.note,.tick{fill:#475569}.tick{text-anchor:middle}.in{fill:#fff}.out{fill:#0f172a}.title{font-size:12px;font-weight:600;fill:#0f172a}</style>',
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="8" y="19" class="title">${escapeXml(timeline.summary())}</text>`,
    ...backgrounds,
    ...grid,
    ...parts,
    '</svg>',
  ].join('\n');
}

/** Puts each span in the first row where it overlaps nothing, so overlapping work stacks up. */
function packRows(spans: Span[], now: number): Span[][] {
  const rows: Span[][] = [];
  for (const span of [...spans].sort((a, b) => a.start - b.start)) {
    const row = rows.find((candidate) => (candidate.at(-1)!.end ?? now) <= span.start);
    if (row) row.push(span);
    else rows.push([span]);
  }
  return rows;
}

/** [time, tasks running from then on], at every start and end. */
function inFlightSteps(spans: Span[], now: number): Array<[number, number]> {
  const events = spans.flatMap(
    (s): Array<[number, number]> => [
      [s.start, 1],
      [s.end ?? now, -1],
    ],
  );
  // At equal times, ends first: a task that starts as another ends did not overlap it.
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let running = 0;
  return events.map(([at, change]) => [at, (running += change)]);
}
