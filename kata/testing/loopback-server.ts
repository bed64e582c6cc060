import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Timeline } from './timeline.ts';

/** How the server answers one request. Every field is optional. */
export interface Reply {
  /** HTTP status; 200 unless set. */
  status?: number;
  /** How long the server takes before it answers, in ms; 0 unless set. */
  delayMs?: number;
  /** The response body; `page <path>` unless set. */
  body?: string;
  /** Hold the answer until `release()` (then answer after `delayMs`). */
  held?: boolean;
  /** Never answer: the request stays open until the client closes it or the server shuts down. */
  never?: boolean;
  /** Send the status and the start of the body (after `delayMs`), then never finish the body. */
  stall?: boolean;
}

/** How a request ended, seen from the server. */
export type Ending = 'answered' | 'client-closed' | 'server-closed';

/** One request as the server saw it. Times are ms since the server started. */
export interface ServedRequest {
  /** Arrival order, from 0. */
  id: number;
  /** The path and query, as requested. */
  path: string;
  /** The path without the query. */
  pathname: string;
  arrivedAt: number;
  /** When the server answered, or when the connection closed before it could. */
  endedAt?: number;
  /** Undefined while the request is still open. */
  ending?: Ending;
  /** The status it was answered with, if it was. */
  status?: number;
}

export interface LoopbackServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** The full URL of `path` on this server, e.g. `url('/page/1?delay=50')`. */
  url(path: string): string;
  /** Sets how requests for `pathname` (the path without its query) are answered. */
  route(pathname: string, reply: Reply): void;
  /** Answers the held requests (all of them, or those for `pathname`), now and from now on. */
  release(pathname?: string): void;
  /** Every request so far, in arrival order. */
  readonly requests: readonly ServedRequest[];
  /** Requests that arrived and have not ended yet. */
  readonly inFlight: number;
  /** The most requests that were ever in flight at the same moment. */
  readonly maxInFlight: number;
  /** How many requests arrived. */
  readonly total: number;
  /** One span per request, labelled with its pathname, from arrival to its end. */
  readonly timeline: Timeline;
  /** Ms since the server started: the clock of `requests` (arrivedAt, endedAt). */
  now(): number;
  /** Ms since the last request arrived or ended (since start, if none has). */
  idleMs(): number;
  /**
   * Resolves true as soon as `condition()` holds (checked at every arrival and end, and every
   * 20 ms), or false once `ms` have passed without it. With `stopWhen`, it stops waiting as soon as
   * that promise settles (the call under test is done, so nothing more will come): then it
   * resolves with `condition()` at that moment.
   */
  until(condition: () => boolean, ms: number, options?: { stopWhen?: Promise<unknown> }): Promise<boolean>;
  /** Closes every connection (open requests end as 'server-closed') and stops listening. */
  close(): Promise<void>;
}

export interface ServerOptions {
  /** Replies by pathname; a request's query (`?delay=50&status=404&held=1&never=1&stall=1`) overrides them. */
  routes?: Record<string, Reply>;
  /** Record request spans on this timeline instead of a new one. */
  timeline?: Timeline;
}

/**
 * A real HTTP server on 127.0.0.1 at a free port, for tests that need a network to wait on.
 * Each request is answered as its route and query say (status, delay, held until released,
 * never, a body that stalls), and the server records what the client did: how many requests were in flight at
 * once, when each arrived and ended, and whether the client gave up and closed the connection.
 *
 * ```ts
 * const server = await startLoopbackServer();
 * await fetch(server.url('/slow?delay=200'));
 * server.requests[0].ending; // 'answered'
 * await server.close();
 * ```
 */
export async function startLoopbackServer(options: ServerOptions = {}): Promise<LoopbackServer> {
  const timeline = options.timeline ?? new Timeline();
  const started = performance.now();
  const now = () => performance.now() - started;
  const routes = new Map(Object.entries(options.routes ?? {}));
  const requests: ServedRequest[] = [];
  const held = new Set<{ pathname: string; answer: () => void }>();
  const released = new Set<string>();
  let releasedAll = false;
  const listeners = new Set<() => void>();
  const waiters = new Set<() => void>();
  let inFlight = 0;
  let maxInFlight = 0;
  let lastEventAt = 0;
  let closing = false;

  const changed = () => {
    lastEventAt = now();
    for (const listener of listeners) listener();
  };

  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    const { pathname, searchParams } = new URL(path, 'http://loopback');
    const reply = { ...routes.get(pathname), ...fromQuery(searchParams) };
    const request: ServedRequest = { id: requests.length, path, pathname, arrivedAt: now() };
    requests.push(request);
    const endSpan = timeline.begin(pathname);
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let timer: NodeJS.Timeout | undefined;

    const end = (ending: Ending) => {
      if (request.ending) return;
      request.ending = ending;
      request.endedAt = now();
      inFlight -= 1;
      endSpan();
      clearTimeout(timer);
      changed();
    };
    const answer = () => {
      if (request.ending) return;
      const status = reply.status ?? 200;
      const body = reply.body ?? `page ${pathname}`;
      request.status = status;
      if (reply.stall) {
        // Headers and a first piece of body go out; the rest never does, so the request stays open.
        res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
        res.write(body.slice(0, Math.ceil(body.length / 2)));
        return;
      }
      // The request counts as done when the server hands over its answer: from here on, only
      // the client's reading is left, so a client that waits for it can never see more in flight.
      end('answered');
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(body);
    };
    const answerAfterDelay = () => {
      if (reply.delayMs) timer = setTimeout(answer, reply.delayMs);
      else answer();
    };

    // 'close' before the answer means the connection went away: the client aborted, or we shut down.
    res.on('close', () => end(closing ? 'server-closed' : 'client-closed'));
    changed();
    if (reply.never) return;
    if (reply.held && !releasedAll && !released.has(pathname)) {
      const entry = { pathname, answer: () => (held.delete(entry), answerAfterDelay()) };
      held.add(entry);
      return;
    }
    answerAfterDelay();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    origin,
    url: (path) => `${origin}${path.startsWith('/') ? '' : '/'}${path}`,
    route: (pathname, reply) => void routes.set(pathname, reply),
    release(pathname) {
      if (pathname === undefined) releasedAll = true;
      else released.add(pathname);
      for (const entry of [...held]) if (pathname === undefined || entry.pathname === pathname) entry.answer();
    },
    requests,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    get total() {
      return requests.length;
    },
    timeline,
    now,
    idleMs: () => now() - lastEventAt,
    until(condition, ms, { stopWhen } = {}) {
      return new Promise<boolean>((resolve) => {
        const check = () => {
          if (condition()) finish();
        };
        const finish = () => {
          listeners.delete(check);
          waiters.delete(finish);
          clearInterval(poll);
          clearTimeout(deadline);
          resolve(condition());
        };
        const poll = setInterval(check, 20);
        const deadline = setTimeout(finish, ms);
        listeners.add(check);
        waiters.add(finish);
        stopWhen?.then(finish, finish);
        check();
      });
    },
    async close() {
      closing = true;
      // Nothing is left waiting on a server that is gone.
      for (const finish of [...waiters]) finish();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive and still-open connections would otherwise hold close() up.
      server.closeAllConnections();
      await closed;
    },
  };
}

/** `?delay=50&status=404&held=1&never=1&stall=1&body=text`: a reply chosen by the URL itself. */
function fromQuery(query: URLSearchParams): Reply {
  const reply: Reply = {};
  const number = (name: string) => (query.has(name) ? Number(query.get(name)) : undefined);
  const flag = (name: string) => (query.has(name) ? query.get(name) !== '0' : undefined);
  if (query.has('delay')) reply.delayMs = number('delay');
  if (query.has('status')) reply.status = number('status');
  if (query.has('body')) reply.body = query.get('body')!;
  if (query.has('held')) reply.held = flag('held');
  if (query.has('never')) reply.never = flag('never');
  if (query.has('stall')) reply.stall = flag('stall');
  return reply;
}
