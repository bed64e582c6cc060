/** What crawl() reports for one URL. */
export type PageResult =
  | { url: string; ok: true; status: number; body: string }
  /** The server answered with a status outside 200-299. */
  | { url: string; ok: false; reason: 'status'; status: number }
  /** No answer within `timeoutMs`: the request was aborted. */
  | { url: string; ok: false; reason: 'timeout' }
  /** The request failed on the way (connection refused, reset, ...). */
  | { url: string; ok: false; reason: 'network'; message: string };

export interface CrawlOptions {
  /** The most requests in flight at any moment. */
  concurrency: number;
  /** How long one request may take, from its start to the end of its body, before it is aborted. */
  timeoutMs: number;
}

/**
 * Fetches every URL, at most `concurrency` at a time, and resolves with one result per URL, in
 * the order of `urls`. Never rejects: a failing status, a timeout or a network error becomes
 * that URL's result.
 */
export async function crawl(urls: readonly string[], { concurrency, timeoutMs }: CrawlOptions): Promise<PageResult[]> {
  const results = new Array<PageResult>(urls.length);
  let next = 0;
  // A sliding window: `concurrency` loops share one queue (the `next` index). Each loop starts the
  // next URL the moment its own request ends, so a slow request only ever holds its own slot.
  // (`next++` needs no lock: JavaScript runs one callback at a time on the event loop.)
  async function slot(): Promise<void> {
    while (next < urls.length) {
      const index = next++;
      // Storing by index keeps the input order whatever order the requests finish in.
      results[index] = await fetchPage(urls[index]!, timeoutMs);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, urls.length) }, slot));
  return results;
}

async function fetchPage(url: string, timeoutMs: number): Promise<PageResult> {
  // Made here, when the request starts, so time spent waiting for a slot does not count. The
  // signal aborts the request itself: fetch closes the connection, and the body read stops too.
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const response = await fetch(url, { signal });
    const body = await response.text();
    // fetch resolves for any answer from the server, 404 and 500 included: check the status.
    if (!response.ok) return { url, ok: false, reason: 'status', status: response.status };
    return { url, ok: true, status: response.status, body };
  } catch (error) {
    if (signal.aborted) return { url, ok: false, reason: 'timeout' };
    return { url, ok: false, reason: 'network', message: (error as Error).message };
  }
}
