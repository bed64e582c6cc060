import { threadId } from 'node:worker_threads';

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
      span.end ??= (this.#running -= 1, this.now());
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
    return this.spans.filter((s) => s.end !== undefined).sort((a, b) => a.end! - b.end!).map((s) => s.label);
  }

  unfinished(): string[] {
    return this.spans.filter((s) => s.end === undefined).map((s) => s.label);
  }

  /** A compact text picture, one row per span, for failure messages. */
  toText(width = 50): string {
    const last = Math.max(1, ...this.spans.map((s) => s.end ?? this.now()));
    const scale = width / last;
    const rows = this.spans.map((s) => {
      const from = Math.round(s.start * scale);
      const to = Math.max(from + 1, Math.round((s.end ?? last) * scale));
      const bar = ' '.repeat(from) + (s.end === undefined ? '>'.repeat(to - from) : '#'.repeat(to - from));
      return `  ${s.label.padEnd(12)} |${bar.padEnd(width)}| ${fmt(s.start)}-${s.end === undefined ? 'still running' : fmt(s.end)}`;
    });
    return [`  timeline (0 to ${fmt(last)}):`, ...rows].join('\n');
  }
}

const fmt = (ms: number) => `${Math.round(ms)} ms`;
