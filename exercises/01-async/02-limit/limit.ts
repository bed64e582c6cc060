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
export async function crawl(urls: readonly string[], options: CrawlOptions): Promise<PageResult[]> {
  // TODO: keep `options.concurrency` requests in flight until every URL is done; give each
  // request its own timeout with an AbortSignal.
  throw new Error('Not implemented yet: crawl() in exercises/01-async/02-limit/limit.ts (see README.md there)');
}
