/**
 * The charts of the report, as plain SVG written by hand: a speed-up plot against the ideal line,
 * and horizontal bar charts (median, with a whisker from the fastest sample to the 99th percentile).
 */
import { escapeXml, niceStep, round1 as round } from '../../kata/svg.ts';
import { type Row, toMs } from '../measure.ts';
import { formatDurationMs } from './format.ts';
import { findRow, type GroupResult, type Results } from './results.ts';

const font = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';
const colors = {
  pool: '#2563eb',
  ideal: '#6b7280',
  workers: '#ea580c',
  processes: '#7c3aed',
  processPool: '#16a34a',
  async: '#dc2626',
  shared: '#0d9488',
  bar: '#60a5fa',
  grid: '#e5e7eb',
  text: '#111827',
  muted: '#6b7280',
};

const mechanisms = [
  { name: 'shared memory, between threads', color: colors.shared, test: (id: string) => id.startsWith('increment') },
  { name: 'child processes', color: colors.processes, test: (id: string) => /process|fork|child/.test(id) },
  { name: 'worker threads', color: colors.workers, test: (id: string) => /worker|pool|piscina/.test(id) },
  { name: 'main thread (event loop)', color: colors.bar, test: () => true },
];
const mechanismColor = (id: string) => mechanisms.find((m) => m.test(id))!.color;
const legendOf = (rows: Row[]) =>
  [...mechanisms]
    .reverse()
    .filter((m) => rows.some((row) => mechanismColor(row.id) === m.color))
    .map(({ name, color }) => ({ name, color }));

function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${round(x)}" y="${round(y)}" ${attrs}>${escapeXml(content)}</text>`;
}

function svgDocument(width: number, height: number, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${font} font-size="12" fill="${colors.text}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

function subtitleOf(results: Results): string {
  const { summary } = results;
  return `${summary.cores} cores (${summary.machine.cpu}), ${summary.machine.os}, Node ${summary.node}, load ${summary.loadBefore[0]?.toFixed(2)}; ${summary.mode} run, ${results.generatedAt.slice(0, 10)}`;
}

/** Speed-up over the sequential loop against the number of threads, beside the ideal for this machine's cores. */
export function speedupChart(results: Results): string | undefined {
  const cpu = results.groups.find((g) => g.id === 'cpu');
  const points = results.summary.speedupByThreads;
  const sequential = cpu && findRow([cpu], 'sequential');
  if (!cpu || !sequential || points.length === 0) return undefined;
  const { cores } = results.summary;
  const width = 760;
  const height = 440;
  const plot = { left: 64, right: 500, top: 70, bottom: 380 };
  const maxThreads = Math.max(...points.map((p) => p.threads));
  const speedupOf = (row: Row) => ({
    median: sequential.stats.median / row.stats.median,
    low: sequential.stats.median / row.stats.p99,
    high: sequential.stats.median / row.stats.min,
  });

  const markers = [
    { id: 'promise-all', name: 'Promise.all, main thread', color: colors.async, shape: 'cross' },
    { id: 'workers-per-call', name: 'new workers per call', color: colors.workers, shape: 'triangle' },
    { id: 'processes-per-call', name: 'new processes per call', color: colors.processes, shape: 'diamond' },
    { id: 'process-pool', name: 'warm process pool', color: colors.processPool, shape: 'square' },
  ].flatMap((m) => {
    const row = findRow([cpu], m.id);
    return row ? [{ ...m, ...speedupOf(row) }] : [];
  });

  const yMax = Math.ceil(Math.max(cores, ...points.map((p) => p.high), ...markers.map((m) => m.high)) + 0.25);
  const x = (threads: number) => plot.left + ((threads - 0.5) / maxThreads) * (plot.right - plot.left);
  const y = (speedup: number) => plot.bottom - (speedup / yMax) * (plot.bottom - plot.top);
  const body: string[] = [
    text(plot.left, 28, 'CPU-bound work: speed-up over a sequential loop', 'font-size="16" font-weight="600"'),
    text(plot.left, 48, subtitleOf(results), `fill="${colors.muted}" font-size="11"`),
  ];

  // Grid and axes.
  const yStep = yMax > 8 ? 2 : yMax > 4 ? 1 : 0.5;
  for (let v = 0; v <= yMax + 1e-9; v += yStep) {
    body.push(`<line x1="${plot.left}" y1="${round(y(v))}" x2="${plot.right}" y2="${round(y(v))}" stroke="${colors.grid}"/>`);
    body.push(text(plot.left - 8, y(v) + 4, `${v}x`, 'text-anchor="end"'));
  }
  const ticks = maxThreads <= 16 ? Array.from({ length: maxThreads }, (_, i) => i + 1) : points.map((p) => p.threads);
  for (const t of ticks) {
    body.push(`<line x1="${round(x(t))}" y1="${plot.bottom}" x2="${round(x(t))}" y2="${plot.bottom + 5}" stroke="${colors.text}"/>`);
    body.push(text(x(t), plot.bottom + 18, String(t), 'text-anchor="middle"'));
  }
  body.push(`<line x1="${plot.left}" y1="${plot.bottom}" x2="${plot.right}" y2="${plot.bottom}" stroke="${colors.text}"/>`);
  body.push(`<line x1="${plot.left}" y1="${plot.top}" x2="${plot.left}" y2="${plot.bottom}" stroke="${colors.text}"/>`);
  body.push(text((plot.left + plot.right) / 2, plot.bottom + 40, 'threads (warm pool size)', 'text-anchor="middle"'));
  body.push(text(18, (plot.top + plot.bottom) / 2, 'speed-up', `text-anchor="middle" transform="rotate(-90 18 ${(plot.top + plot.bottom) / 2})"`));
  if (cores < maxThreads) {
    // Past the core count, threads can only take turns.
    body.push(
      `<rect x="${round(x(cores + 0.5))}" y="${plot.top}" width="${round(plot.right - x(cores + 0.5))}" height="${plot.bottom - plot.top}" fill="#f3f4f6"/>`,
    );
    body.push(text(x(cores + 0.5) + 6, plot.top + 14, 'more threads than cores', `fill="${colors.muted}" font-size="11"`));
  }

  // The sequential loop's level: 1x.
  body.push(`<line x1="${plot.left}" y1="${round(y(1))}" x2="${plot.right}" y2="${round(y(1))}" stroke="${colors.ideal}" stroke-width="1"/>`);

  // The warm pool: medians joined, whiskers from the 99th percentile to the fastest sample.
  for (const p of points) {
    body.push(
      `<line x1="${round(x(p.threads))}" y1="${round(y(p.low))}" x2="${round(x(p.threads))}" y2="${round(y(p.high))}" stroke="${colors.pool}" stroke-width="2"/>`,
    );
  }
  body.push(
    `<polyline points="${points.map((p) => `${round(x(p.threads))},${round(y(p.speedup))}`).join(' ')}" fill="none" stroke="${colors.pool}" stroke-width="2.5"/>`,
  );
  for (const p of points) {
    body.push(`<circle cx="${round(x(p.threads))}" cy="${round(y(p.speedup))}" r="5" fill="${colors.pool}"/>`);
    body.push(text(x(p.threads) + 8, y(p.speedup) - 8, `${p.speedup.toFixed(2)}x`, `fill="${colors.pool}" font-weight="600"`));
  }

  // The ideal, drawn over the pool's line so both show where they meet: each thread adds a
  // core's worth of speed, until the cores run out.
  const ideal = [
    [0.5, 0.5],
    [cores, cores],
    [maxThreads + 0.5, cores],
  ]
    .map(([t, s]) => `${round(x(t!))},${round(y(s!))}`)
    .join(' ');
  body.push(`<polyline points="${ideal}" fill="none" stroke="${colors.ideal}" stroke-width="2" stroke-dasharray="6 4"/>`);

  // The other approaches use as many threads or processes as there are cores: just left of that column.
  markers.forEach((m, i) => {
    const cx = x(cores - 0.45 + i * 0.1);
    body.push(`<line x1="${round(cx)}" y1="${round(y(m.low))}" x2="${round(cx)}" y2="${round(y(m.high))}" stroke="${m.color}" stroke-width="1.5"/>`);
    body.push(symbol(m.shape, cx, y(m.median), m.color));
  });

  // Legend.
  const legend = [
    {
      name: `warm piscina pool (${points.find((p) => p.threads === cores)?.speedup.toFixed(2) ?? '?'}x at ${cores})`,
      draw: (lx: number, ly: number) =>
        `<line x1="${lx - 8}" y1="${ly}" x2="${lx + 8}" y2="${ly}" stroke="${colors.pool}" stroke-width="2.5"/><circle cx="${lx}" cy="${ly}" r="4" fill="${colors.pool}"/>`,
    },
    {
      name: `ideal on ${cores} cores`,
      draw: (lx: number, ly: number) =>
        `<line x1="${lx - 10}" y1="${ly}" x2="${lx + 10}" y2="${ly}" stroke="${colors.ideal}" stroke-width="2" stroke-dasharray="6 4"/>`,
    },
    {
      name: 'sequential loop (1x)',
      draw: (lx: number, ly: number) => `<line x1="${lx - 10}" y1="${ly}" x2="${lx + 10}" y2="${ly}" stroke="${colors.ideal}" stroke-width="1"/>`,
    },
    ...markers.map((m) => ({ name: `${m.name} (${m.median.toFixed(2)}x)`, draw: (lx: number, ly: number) => symbol(m.shape, lx, ly, m.color) })),
  ];
  legend.forEach((entry, i) => {
    const ly = plot.top + 10 + i * 22;
    body.push(entry.draw(plot.right + 30, ly));
    body.push(text(plot.right + 46, ly + 4, entry.name));
  });
  body.push(text(plot.right + 20, plot.top + 10 + legend.length * 22 + 12, 'dots: median of the samples;', `fill="${colors.muted}" font-size="11"`));
  body.push(
    text(plot.right + 20, plot.top + 10 + legend.length * 22 + 27, 'lines: 99th percentile to fastest sample', `fill="${colors.muted}" font-size="11"`),
  );
  body.push(
    text(
      plot.right + 20,
      plot.top + 10 + legend.length * 22 + 48,
      `symbols left of ${cores}: other approaches, ${cores} at once`,
      `fill="${colors.muted}" font-size="11"`,
    ),
  );
  return svgDocument(width, height, body);
}

function symbol(shape: string, cx: number, cy: number, color: string): string {
  const [a, b] = [round(cx), round(cy)];
  switch (shape) {
    case 'triangle':
      return `<polygon points="${a},${b - 6} ${a - 6},${b + 5} ${a + 6},${b + 5}" fill="${color}"/>`;
    case 'diamond':
      return `<polygon points="${a},${b - 6} ${a + 6},${b} ${a},${b + 6} ${a - 6},${b}" fill="${color}"/>`;
    case 'square':
      return `<rect x="${a - 5}" y="${b - 5}" width="10" height="10" fill="${color}"/>`;
    default:
      return `<path d="M${a - 5},${b - 5} L${a + 5},${b + 5} M${a + 5},${b - 5} L${a - 5},${b + 5}" stroke="${color}" stroke-width="2.5"/>`;
  }
}

interface Bar {
  label: string;
  median: number;
  min: number;
  max: number;
  value: string;
  color?: string;
}

interface Panel {
  title: string;
  bars: Bar[];
  log: boolean;
  tick: (value: number) => string;
  reference?: { value: number; label: string };
}

/** Horizontal bars, one per row: the median, and a whisker from the fastest sample to the 99th percentile. */
function barPanel(panel: Panel, top: number, width: number): { svg: string[]; height: number } {
  const labelWidth = 330;
  const left = labelWidth + 10;
  const right = width - 190;
  const rowHeight = 22;
  const plotTop = top + 44;
  const plotBottom = plotTop + panel.bars.length * rowHeight;
  const values = panel.bars.flatMap((b) => [b.min, b.max, b.median]).concat(panel.reference ? [panel.reference.value] : []);
  let x: (value: number) => number;
  let ticks: number[];
  if (panel.log) {
    const low = 10 ** Math.floor(Math.log10(Math.min(...values)));
    const high = 10 ** Math.ceil(Math.log10(Math.max(...values)));
    x = (v) => left + ((Math.log10(v) - Math.log10(low)) / (Math.log10(high) - Math.log10(low))) * (right - left);
    ticks = [];
    for (let t = low; t <= high * 1.0001; t *= 10) ticks.push(t);
  } else {
    const step = niceStep(Math.max(...values) / 5);
    const high = Math.ceil(Math.max(...values) / step) * step;
    x = (v) => left + (v / high) * (right - left);
    ticks = Array.from({ length: Math.round(high / step) + 1 }, (_, i) => i * step);
  }
  const base = panel.log ? left : x(0);
  const svg = [text(12, top + 16, panel.title, 'font-size="14" font-weight="600"')];
  for (const t of ticks) {
    svg.push(`<line x1="${round(x(t))}" y1="${plotTop - 4}" x2="${round(x(t))}" y2="${plotBottom}" stroke="${colors.grid}"/>`);
    svg.push(text(x(t), plotBottom + 16, panel.tick(t), `text-anchor="middle" fill="${colors.muted}" font-size="10"`));
  }
  panel.bars.forEach((bar, i) => {
    const cy = plotTop + i * rowHeight + rowHeight / 2;
    svg.push(text(labelWidth, cy + 4, bar.label, 'text-anchor="end"'));
    svg.push(
      `<rect x="${round(base)}" y="${round(cy - 7)}" width="${round(Math.max(1, x(bar.median) - base))}" height="14" fill="${bar.color ?? colors.bar}"/>`,
    );
    svg.push(`<line x1="${round(x(bar.min))}" y1="${round(cy)}" x2="${round(x(bar.max))}" y2="${round(cy)}" stroke="${colors.text}" stroke-width="1.2"/>`);
    for (const end of [bar.min, bar.max])
      svg.push(`<line x1="${round(x(end))}" y1="${round(cy - 4)}" x2="${round(x(end))}" y2="${round(cy + 4)}" stroke="${colors.text}" stroke-width="1.2"/>`);
    svg.push(text(Math.max(x(bar.max), x(bar.median)) + 6, cy + 4, bar.value, 'font-size="11"'));
  });
  if (panel.reference) {
    const rx = round(x(panel.reference.value));
    svg.push(`<line x1="${rx}" y1="${plotTop - 8}" x2="${rx}" y2="${plotBottom}" stroke="${colors.async}" stroke-dasharray="4 3"/>`);
    svg.push(text(rx, plotTop - 12, panel.reference.label, `text-anchor="middle" fill="${colors.async}" font-size="11"`));
  }
  return { svg, height: plotBottom - top + 30 };
}

/** 1 ns, 10 ns, 100 ns, 1 µs, ... 1 s: a decade's tick, from a value in ms. */
function powerOfTen(ms: number): string {
  const units: Array<[string, number]> = [
    ['s', 1e3],
    ['ms', 1],
    ['µs', 1e-3],
    ['ns', 1e-6],
  ];
  const [unit, size] = units.find(([, size]) => ms >= size * 0.999) ?? units[units.length - 1]!;
  return `${Number((ms / size).toPrecision(1))} ${unit}`;
}

function stackPanels(results: Results, title: string, panels: Panel[], legend: Array<{ name: string; color: string }> = []): string {
  const width = 940;
  const body = [text(12, 26, title, 'font-size="16" font-weight="600"'), text(12, 44, subtitleOf(results), `fill="${colors.muted}" font-size="11"`)];
  let top = 60;
  for (const panel of panels) {
    const { svg, height } = barPanel(panel, top, width);
    body.push(...svg);
    top += height + 10;
  }
  let lx = 12;
  for (const entry of legend) {
    body.push(`<rect x="${lx}" y="${top - 6}" width="12" height="12" fill="${entry.color}"/>`, text(lx + 18, top + 4, entry.name));
    lx += 40 + entry.name.length * 7;
  }
  body.push(text(lx, top + 4, 'bars: median; whiskers: fastest sample to 99th percentile', `fill="${colors.muted}" font-size="11"`));
  return svgDocument(width, top + 16, body);
}

const barOf = (row: Row, toUnit: number, value: string, color?: string): Bar => ({
  label: row.label,
  median: row.stats.median * toUnit,
  min: row.stats.min * toUnit,
  max: row.stats.p99 * toUnit,
  value,
  color,
});

/** Start-up, round trips, pool tasks and increments on one log scale (in ms), then memory. */
export function costsChart(results: Results): string | undefined {
  const costs = results.groups.find((g) => g.id === 'costs');
  if (!costs) return undefined;
  const timed = costs.rows.filter((row) => row.unit !== 'MB').sort((a, b) => a.stats.median * toMs[a.unit as 'ns'] - b.stats.median * toMs[b.unit as 'ns']);
  const memory = costs.rows.filter((row) => row.unit === 'MB');
  const panels: Panel[] = [
    {
      title: 'Time per operation (log scale: each grid line is 10x the one before)',
      log: true,
      tick: powerOfTen,
      bars: timed.map((row) => {
        const scale = toMs[row.unit as 'ns'];
        return barOf(row, scale, formatDurationMs(row.stats.median * scale), mechanismColor(row.id));
      }),
    },
  ];
  if (memory.length > 0) {
    panels.push({
      title: 'Memory',
      log: false,
      tick: (v) => `${v} MB`,
      bars: memory.map((row) => barOf(row, 1, `${row.stats.median.toFixed(1)} MB`, mechanismColor(row.id))),
    });
  }
  return stackPanels(results, 'What concurrency costs before any work is done', panels, legendOf(costs.rows));
}

/** Bars by where the work ran: the main thread's event loop, worker threads, or child processes. */

/** Every CPU and I/O approach's wall time, beside its yardstick (the sequential loop, one wait). */
export function approachesChart(results: Results): string | undefined {
  const panels: Panel[] = [];
  const cpu = results.groups.find((g) => g.id === 'cpu');
  const sequential = cpu && findRow([cpu], 'sequential');
  if (cpu && sequential) {
    panels.push({
      title: `CPU-bound: ${cpu.workload}`,
      log: false,
      tick: (v) => `${v} ms`,
      reference: { value: sequential.stats.median, label: 'sequential' },
      bars: cpu.rows.map((row) =>
        barOf(row, 1, `${formatDurationMs(row.stats.median)}  (${(sequential.stats.median / row.stats.median).toFixed(2)}x speed-up)`, mechanismColor(row.id)),
      ),
    });
  }
  const io = results.groups.find((g) => g.id === 'io');
  for (const kind of ['timer', 'http'] as const) {
    const one = io && findRow([io as GroupResult], `${kind}-one`);
    if (!io || !one) continue;
    panels.push({
      title: `I/O-bound, ${kind === 'timer' ? 'timers' : 'HTTP on loopback'}: ${io.workload.split(':')[0]}`,
      log: false,
      tick: (v) => `${v} ms`,
      reference: { value: one.stats.median, label: 'one wait' },
      bars: io.rows
        .filter((row) => row.id.startsWith(`${kind}-`))
        .map((row) =>
          barOf(row, 1, `${formatDurationMs(row.stats.median)}  (${(row.stats.median / one.stats.median).toFixed(2)}x one wait)`, mechanismColor(row.id)),
        ),
    });
  }
  const legend = legendOf(results.groups.filter((g) => g.id !== 'costs').flatMap((g) => g.rows));
  return panels.length > 0 ? stackPanels(results, 'Each workload, every approach: wall time per run', panels, legend) : undefined;
}
