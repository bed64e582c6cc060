export interface ReportOptions {
  /** The caller's signal: aborting it cancels the build, whatever stage it is at. */
  signal?: AbortSignal;
  /** A deadline for the whole build, from the call until the report is rendered, in ms. */
  timeoutMs: number;
  /** How long to wait before the one retry that follows a 503 answer, in ms. */
  retryDelayMs: number;
}

/**
 * Builds a report: fetches the page at `url` (after a 503, waits `retryDelayMs` and fetches it
 * again), then renders it in a child process running `render.ts` (the page on its stdin, the
 * report on its stdout). Resolves with the report. Cancelled by the caller's signal or the
 * deadline at any stage: rejects with the reason of whichever came first, once nothing of the
 * build is left running.
 */
export async function buildReport(url: string, options: ReportOptions): Promise<string> {
  // TODO: one signal for every layer (the caller's and the deadline), handed to fetch, the wait
  // and the child; reject with its reason; leave no timer, listener or child behind.
  throw new Error('Not implemented yet: buildReport() in exercises/07-async-depth/02-cancel/cancel.ts (see README.md there)');
}
