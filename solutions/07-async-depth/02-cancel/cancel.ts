import { spawn } from 'node:child_process';
import { setTimeout as wait } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export interface ReportOptions {
  /** The caller's signal: aborting it cancels the build, whatever stage it is at. */
  signal?: AbortSignal;
  /** A deadline for the whole build, from the call until the report is rendered, in ms. */
  timeoutMs: number;
  /** How long to wait before the one retry that follows a 503 answer, in ms. */
  retryDelayMs: number;
}

const renderer = fileURLToPath(new URL('./render.ts', import.meta.url));

/**
 * Builds a report: fetches the page at `url` (after a 503, waits `retryDelayMs` and fetches it
 * again), then renders it in a child process running `render.ts` (the page on its stdin, the
 * report on its stdout). Resolves with the report. Cancelled by the caller's signal or the
 * deadline at any stage: rejects with the reason of whichever came first, once nothing of the
 * build is left running.
 */
export async function buildReport(url: string, options: ReportOptions): Promise<string> {
  // One signal for every layer: it aborts when the caller's does or when the deadline passes, with
  // that one's reason. AbortSignal.any adds no listener to the caller's signal (it holds it weakly),
  // and the timer of AbortSignal.timeout keeps no process alive: nothing to clean up afterwards.
  const cancel = AbortSignal.any(options.signal ? [options.signal, AbortSignal.timeout(options.timeoutMs)] : [AbortSignal.timeout(options.timeoutMs)]);
  try {
    // A signal aborted already makes fetch reject at once, with its reason, before it sends
    // anything: nothing is started.
    let response = await fetch(url, { signal: cancel });
    if (response.status === 503) {
      // An abort ends the wait at once and clears its timer.
      await wait(options.retryDelayMs, undefined, { signal: cancel });
      response = await fetch(url, { signal: cancel });
    }
    // The body is part of the request: an abort while it arrives closes the connection too.
    const page = await response.text();
    return await render(page, cancel);
  } catch (error) {
    // fetch rejects with the reason itself; the wait and the child with an AbortError that wraps
    // it. The caller gets the reason either way: its own value, or the deadline's TimeoutError.
    throw cancel.aborted ? cancel.reason : error;
  }
}

/** Runs render.ts on `page`; settles once the child has exited, killed by `signal` or not. */
function render(page: string, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    // With `signal`, spawn kills the child (SIGTERM) when it aborts.
    const child = spawn(process.execPath, [renderer], { signal, stdio: ['pipe', 'pipe', 'inherit'] });
    let report = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (report += chunk));
    // A child killed before it read its page closes stdin under the write: EPIPE, nothing to report.
    child.stdin.on('error', () => {});
    child.stdin.end(page);
    // 'error' comes as soon as the abort does, while the child is still running: the promise
    // settles on 'close' instead, once the child has exited and its output is complete. (A child
    // killed by the abort ends without code 0: buildReport turns that into the signal's reason.)
    child.on('error', () => {});
    child.on('close', (code) => (code === 0 ? resolve(report) : reject(new Error(`render.ts exited with code ${code}`))));
  });
}
