import type { ChildProcess } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { isChildAlive, type Settlement, settlementWithin, shownReason, sleep, spawnLog, valueWithin } from '#kata/testing/index.ts';
import { loopbackServerForEachTest } from '#kata/testing/loopback-each-test.ts';
import type { LoopbackServer, ServedRequest } from '#kata/testing/loopback-server.ts';
import { watchTimers } from '#kata/inside/timers.ts';
import { buildReport, type ReportOptions } from './cancel.ts';

// A real HTTP server on 127.0.0.1 serves the pages: `page <path>` unless a route says otherwise
// (held until released, a 503). A page whose path mentions "slow" takes render.ts 30 s.
let server: LoopbackServer;
const builds = loopbackServerForEachTest((started) => (server = started));

/** What render.ts prints for a page. */
const reportOf = (page: string) => `REPORT (${page.length} characters): ${page.toUpperCase()}`;
const pageAt = (pathname: string) => `page ${pathname}`;
const requestsFor = (pathname: string): ServedRequest[] => server.requests.filter((request) => request.pathname === pathname);
const isTimeoutError = (value: unknown) => value instanceof DOMException && value.name === 'TimeoutError';
const log = () => `\n  the server saw:\n${server.timeline.toText()}\n`;

/** Starts a build; its failure is always observed, so a test that gave up on it leaves no unhandled rejection. */
function start(url: string, options: ReportOptions): Promise<string> {
  const building = buildReport(url, options);
  builds.track(building);
  return building;
}

/**
 * Waits up to `ms` for the server to see `condition`, but no longer than `building` takes to settle (then nothing
 * more will come): undefined once seen, otherwise when it was missed ("within 3 s of the call", "before buildReport
 * rejected with ..."). The stub's error is re-thrown.
 */
async function serverSees(building: Promise<string>, condition: () => boolean, ms: number): Promise<string | undefined> {
  if (await server.until(condition, ms, { stopWhen: building })) return undefined;
  const outcome = await settlementWithin(building, 0);
  return outcome.state === 'pending' ? `within ${ms / 1_000} s of the call` : `before buildReport ${settledAs(outcome)}`;
}

function settledAs(outcome: Settlement<string>): string {
  if (outcome.state === 'resolved') return `resolved with ${JSON.stringify(outcome.value)}`;
  return outcome.state === 'rejected' ? `rejected with ${shownReason(outcome.reason)}` : 'had settled';
}

/** buildReport must resolve: a rejection is explained, unless it is the stub's or a deadline's. */
async function built(url: string, options: ReportOptions): Promise<string> {
  const before = spawnLog().children.length;
  const deadline = options.timeoutMs + 5_000;
  return valueWithin(deadline, start(url, options), `buildReport(${new URL(url).pathname}) did not settle within ${deadline} ms`, (reason) =>
    isTimeoutError(reason)
      ? `buildReport(${url}) rejected with a TimeoutError: its ${options.timeoutMs} ms deadline passed on a page that render.ts ` +
        `renders at once, after ${childrenSince(before).length} child process(es) had been started, and no report came. render.ts prints its report ` +
        `once its stdin has ended: write the page, then end stdin (child.stdin.end(page)), and collect stdout until 'close'.${log()}`
      : `buildReport(${url}) rejected with ${shownReason(reason)}, although nothing aborted it.${log()}`,
  );
}

/** What the caller aborts with: a value of its own, which buildReport must reject with, unchanged. */
class ClientGone extends Error {
  override name = 'ClientGone';
}

/** Children started since `before` (an index into the spawn log). */
const childrenSince = (before: number): ChildProcess[] => spawnLog().children.slice(before);

/** What the rejection reason is, as a sentence, against the reason expected. */
function notTheReason(outcome: Settlement<string>, expected: unknown, what: string): string {
  if (outcome.state === 'pending') return `buildReport had not settled`;
  if (outcome.state === 'resolved') return `buildReport resolved with ${JSON.stringify(outcome.value)} instead of rejecting`;
  return `buildReport rejected with ${shownReason(outcome.reason)}, not ${what} (${shownReason(expected)})`;
}

describe('buildReport: a build that runs to the end', () => {
  test('resolves with the report render.ts printed for the page, rendered in a child process', async () => {
    const before = spawnLog().children.length;
    const report = await built(server.url('/report/1'), { timeoutMs: 5_000, retryDelayMs: 50 });
    expect(childrenSince(before).length, 'buildReport must render the page in a child process running render.ts: it started none.').toBeGreaterThanOrEqual(1);
    expect(report, 'buildReport must resolve with what render.ts printed on stdout for the page the server sent.').toBe(reportOf(pageAt('/report/1')));
    expect(
      requestsFor('/report/1').length,
      `The server answered 200, and got ${requestsFor('/report/1').length} requests for the page: fetch it once (again only after a 503).${log()}`,
    ).toBe(1);
  });

  test('rejects with an Error that says the exit code when render.ts cannot render the page', async () => {
    const outcome = await settlementWithin(start(server.url('/report/broken'), { timeoutMs: 10_000, retryDelayMs: 50 }), 8_000);
    expect(
      outcome.state === 'rejected' && outcome.reason instanceof Error && /\b3\b/.test(outcome.reason.message),
      `render.ts exits with code 3 on a page that mentions "broken"; ${outcome.state === 'rejected' ? `buildReport rejected with ${shownReason(outcome.reason)}` : outcome.state === 'resolved' ? `buildReport resolved with ${JSON.stringify(outcome.value)}` : 'buildReport had not settled 8 s later'}. ` +
        `A child's exit code is its verdict: reject with an Error whose message says the code when it is not 0.`,
    ).toBe(true);
  });

  test('resolves with the whole report when render.ts prints more than one pipe read of non-ASCII text', async () => {
    // 90,000 accented letters, two bytes each in UTF-8: render.ts prints a report of about 180 KB, which
    // reaches buildReport in several chunks of up to 64 KiB. The report starts with 27 ASCII bytes, so
    // a chunk that ends at an even byte count ends in the middle of a letter.
    const page = 'éèàùç'.repeat(18_000);
    server.route('/report/accents', { body: page });
    const report = String(await built(server.url('/report/accents'), { timeoutMs: 10_000, retryDelayMs: 50 }));
    const expected = reportOf(page);
    const replaced = [...report].filter((character) => character === '\uFFFD').length;
    const firstDifference = [...expected].findIndex((character, index) => report[index] !== character);
    expect(
      replaced,
      `render.ts printed a report of ${Buffer.byteLength(expected)} bytes of valid UTF-8 (${expected.length} characters, ` +
        `accented letters of two bytes each), and buildReport resolved with ${report.length} characters, ${replaced} of them ` +
        'U+FFFD (the replacement character a decoder puts where bytes are not a whole character). The output came in ' +
        'several chunks, and each chunk was decoded on its own: a letter whose two bytes fell into two chunks came out ' +
        'as two broken halves. Decode the stream as a whole (a stream decoder keeps the first half until the second comes), ' +
        'or join the chunks and decode them once.',
    ).toBe(0);
    expect(
      report === expected,
      `render.ts printed a report of ${expected.length} characters for the page of ${page.length} accented letters; buildReport ` +
        `resolved with ${report.length} characters, different from character ${firstDifference} on. Resolve with ` +
        'everything render.ts prints on stdout, whole and in order, once it has exited.',
    ).toBe(true);
  });
  test('retries once after a 503, retryDelayMs after the first answer', async () => {
    server.route('/report/busy', { status: 503 });
    const building = start(server.url('/report/busy'), { timeoutMs: 10_000, retryDelayMs: 400 });
    const missing = await serverSees(building, () => requestsFor('/report/busy').length > 0, 3_000);
    expect(missing, `No request reached the server ${missing}.${log()}`).toBeUndefined();
    server.route('/report/busy', {});
    const outcome = await settlementWithin(building, 8_000);
    const [first, second] = requestsFor('/report/busy');
    expect(second, `After the server answered 503, no second request came: retry once, retryDelayMs after the 503.${log()}`).toBeDefined();
    const gap = second!.arrivedAt - (first!.endedAt ?? first!.arrivedAt);
    expect(
      gap,
      `The second request came ${Math.round(gap)} ms after the 503, with retryDelayMs 400: wait retryDelayMs before the retry.${log()}`,
    ).toBeGreaterThanOrEqual(390);
    expect(outcome, `After the retry was answered 200, buildReport must resolve with the report of the page.${log()}`).toMatchObject({
      state: 'resolved',
      value: reportOf(pageAt('/report/busy')),
    });
  });

  test('leaves no timer of its own pending once it has resolved', async () => {
    const timers = watchTimers();
    try {
      await built(server.url('/report/2'), { signal: new AbortController().signal, timeoutMs: 10_000, retryDelayMs: 50 });
      await nextTurn();
      const left = timers.pending();
      expect(
        left,
        `buildReport resolved, and ${left.length} timer(s) it started (of ${left.map((delay) => `${delay} ms`).join(', ')}) were still ` +
          `pending, with timeoutMs 10,000: a deadline's setTimeout that is never cleared keeps the process alive until it fires, ` +
          `into a finished build. Clear it when the build settles (try/finally), or use AbortSignal.timeout(), whose timer keeps ` +
          `nothing alive.`,
      ).toEqual([]);
    } finally {
      timers.stop();
    }
  });

  test('leaves no timer of its own pending once render.ts has failed it', async () => {
    const timers = watchTimers();
    try {
      // One build that resolves first, so that the message can tell "never cleared" from "cleared on success only".
      await built(server.url('/report/fine'), { timeoutMs: 10_000, retryDelayMs: 50 });
      await nextTurn();
      const afterSuccess = timers.pending().length;
      const outcome = await settlementWithin(start(server.url('/report/broken'), { timeoutMs: 10_000, retryDelayMs: 50 }), 8_000);
      expect(
        outcome.state,
        `render.ts exits with code 3 on a page that mentions "broken", and buildReport ` +
          `${outcome.state === 'pending' ? 'had not settled 8 s after the call' : settledAs(outcome)}: a failed render fails the build.`,
      ).toBe('rejected');
      await nextTurn();
      const left = timers.pending();
      const shown = left.map((delay) => `${delay} ms`).join(', ');
      expect(
        left,
        `A build that resolved left ${afterSuccess} timer(s) pending; then a build whose render failed (render.ts exited with ` +
          `code 3) rejected, and ${left.length} timer(s) the builds started (of ${shown}) were still pending, with timeoutMs ` +
          `10,000. ` +
          (afterSuccess === 0
            ? `So the deadline's timer is cleared when a build resolves, but a build that fails leaves it running until it ` +
              `fires into a finished build, keeping the process alive meanwhile: clear it in a finally block, which every way ` +
              `out of the build passes through (or use AbortSignal.timeout(), whose timer keeps nothing alive).`
            : `Neither the build that resolved nor the one that failed cleared its deadline's timer: clear it in a finally ` +
              `block, or use AbortSignal.timeout(), whose timer keeps nothing alive.`),
      ).toEqual([]);
    } finally {
      timers.stop();
    }
  });

  test('leaves no listener on the caller’s signal once it has resolved, however many builds share the signal', async () => {
    const shared = new AbortController();
    const running = Array.from({ length: 12 }, (_, index) =>
      built(server.url(`/report/shared-${index}`), { signal: shared.signal, timeoutMs: 10_000, retryDelayMs: 50 }),
    );
    await Promise.all(running);
    await nextTurn();
    const left = getEventListeners(shared.signal, 'abort').length;
    expect(
      left,
      `12 builds shared one caller's signal, and once all had resolved the signal held ${left} 'abort' listener(s): a listener ` +
        `added per build and never removed. A long-lived signal collects one per call (Node warns MaxListenersExceededWarning ` +
        `past 10). Remove yours when the build settles, or let AbortSignal.any() combine the signals: it adds none.`,
    ).toBe(0);
  });

  test('leaves no listener on the caller’s signal once it has rejected, however many failed builds share the signal', async () => {
    const shared = new AbortController();
    // One build that succeeds first, so that the message can tell "never removed" from "removed on success only".
    await built(server.url('/report/fine'), { signal: shared.signal, timeoutMs: 10_000, retryDelayMs: 50 });
    await nextTurn();
    const afterSuccess = getEventListeners(shared.signal, 'abort').length;
    const outcomes = await Promise.all(
      Array.from({ length: 6 }, (_, index) =>
        settlementWithin(start(server.url(`/report/broken-${index}`), { signal: shared.signal, timeoutMs: 10_000, retryDelayMs: 50 }), 8_000),
      ),
    );
    const notRejected = outcomes.filter((outcome) => outcome.state !== 'rejected');
    const firstNotRejected = notRejected[0];
    expect(
      notRejected.length,
      `6 builds of pages render.ts cannot render (it exits with code 3) shared one caller's signal, and ${notRejected.length} of them ` +
        `did not reject: the first ${firstNotRejected?.state === 'pending' ? 'had not settled 8 s later' : firstNotRejected ? settledAs(firstNotRejected) : ''}.${log()}`,
    ).toBe(0);
    await nextTurn();
    const left = getEventListeners(shared.signal, 'abort').length;
    expect(
      left,
      `A build on a caller's signal resolved and left ${afterSuccess} 'abort' listener(s) on it; then 6 builds on the same signal ` +
        `failed (render.ts exited with code 3), and once all had rejected the signal held ${left}. ` +
        (afterSuccess === 0
          ? `So the listener comes off when a build succeeds, but a build that fails leaves its listener behind: remove it in a ` +
            `finally block, which every way out of the build passes through.`
          : left > afterSuccess
            ? `So neither the build that resolved nor the failed ones took their listener off: remove it in a finally block, or let ` +
              `AbortSignal.any() combine the signals (it adds none).`
            : `The failed builds took theirs off, the one that resolved did not: remove it in a finally block, on every way out.`),
    ).toBe(0);
  });
});

describe('buildReport: the caller aborts', () => {
  test('an abort while the server holds the answer closes the connection and rejects with the caller’s reason', async () => {
    server.route('/report/held', { held: true });
    const caller = new AbortController();
    const building = start(server.url('/report/held'), { signal: caller.signal, timeoutMs: 10_000, retryDelayMs: 50 });
    const missing = await serverSees(building, () => requestsFor('/report/held').length > 0, 3_000);
    expect(missing, `No request reached the server ${missing}.${log()}`).toBeUndefined();
    const reason = new ClientGone('the client went away');
    caller.abort(reason);
    const outcome = await settlementWithin(building, 2_000);
    const closed = await server.until(() => requestsFor('/report/held')[0]!.ending === 'client-closed', 1_000);
    if (!closed && outcome.state === 'pending') {
      expect.fail(
        `2 s after the caller aborted, buildReport had not settled, and the server still had the request open: the abort never ` +
          `reached fetch. Either the caller's signal was read only at the start, or fetch was given a signal that does not ` +
          `follow the caller's (the deadline's alone). Hand fetch one signal that aborts with either.${log()}`,
      );
    }
    expect(
      closed,
      `buildReport ${outcome.state === 'rejected' ? 'rejected' : outcome.state}, but the server still had the request open 1 s later: ` +
        `the caller moved on and the request carried on. Pass the signal to fetch, so that the abort closes the connection.${log()}`,
    ).toBe(true);
    expect(
      outcome.state === 'rejected' && outcome.reason === reason,
      `${notTheReason(outcome, reason, 'the reason the caller aborted with')}. Reject with signal.reason, unchanged: it is how the ` +
        `caller tells its own abort from a deadline or a failure.`,
    ).toBe(true);
  });

  test('an abort during the wait before the retry ends the wait at once: its timer cleared, no second request', async () => {
    server.route('/report/busy', { status: 503 });
    const caller = new AbortController();
    const timers = watchTimers();
    try {
      const building = start(server.url('/report/busy'), { signal: caller.signal, timeoutMs: 20_000, retryDelayMs: 5_000 });
      const missing = await serverSees(building, () => requestsFor('/report/busy')[0]?.ending === 'answered', 3_000);
      expect(missing, `The server had not answered a request (503) ${missing}.${log()}`).toBeUndefined();
      await sleep(100);
      const reason = new ClientGone('the client went away during the back-off');
      const abortedAt = performance.now();
      caller.abort(reason);
      const outcome = await settlementWithin(building, 1_500, abortedAt);
      await nextTurn();
      const left = timers.pending();
      await sleep(300);
      expect(
        outcome.state,
        `1.5 s after the caller aborted during the 5 s wait before the retry, buildReport had not settled: the wait went on. ` +
          `Wait with setTimeout from node:timers/promises and the signal, so that an abort ends it.${log()}`,
      ).not.toBe('pending');
      expect(outcome.state === 'rejected' && outcome.reason === reason, `${notTheReason(outcome, reason, 'the reason the caller aborted with')}.`).toBe(true);
      expect(
        left,
        `buildReport rejected, but ${left.length} timer(s) it started (of ${left.map((delay) => `${delay} ms`).join(', ')}) were still ` +
          `pending: the rejection raced ahead of a wait that goes on. Give the wait the signal, so that the abort clears its timer.`,
      ).toEqual([]);
      expect(requestsFor('/report/busy').length, `A second request came after the caller had aborted.${log()}`).toBe(1);
    } finally {
      timers.stop();
    }
  });

  test('an abort while the server holds the retry closes that connection too, and rejects with the caller’s reason', async () => {
    server.route('/report/busy', { status: 503 });
    const caller = new AbortController();
    const building = start(server.url('/report/busy'), { signal: caller.signal, timeoutMs: 20_000, retryDelayMs: 50 });
    const missing = await serverSees(building, () => requestsFor('/report/busy')[0]?.ending === 'answered', 3_000);
    expect(missing, `The server had not answered a request (503) ${missing}.${log()}`).toBeUndefined();
    server.route('/report/busy', { held: true });
    const noRetry = await serverSees(building, () => requestsFor('/report/busy').length > 1, 3_000);
    expect(noRetry, `After the 503, no second request came ${noRetry} (retryDelayMs 50).${log()}`).toBeUndefined();
    const reason = new ClientGone('the client went away during the retry');
    caller.abort(reason);
    const outcome = await settlementWithin(building, 2_000);
    const closed = await server.until(() => requestsFor('/report/busy')[1]!.ending === 'client-closed', 1_000);
    expect(
      closed,
      `The caller aborted while the server held the retried request, and 1 s later the server still had it open: the retry's ` +
        `fetch was not given the signal. Every request of the build takes it, the retry too.${log()}`,
    ).toBe(true);
    expect(outcome.state === 'rejected' && outcome.reason === reason, `${notTheReason(outcome, reason, 'the reason the caller aborted with')}.`).toBe(true);
  });

  test('an abort while the child renders kills the child, and rejects only once it has exited', async () => {
    const before = spawnLog().children.length;
    const caller = new AbortController();
    const building = start(server.url('/report/slow'), { signal: caller.signal, timeoutMs: 20_000, retryDelayMs: 50 });
    let settled = false;
    building.then(
      () => (settled = true),
      () => (settled = true),
    );
    const deadlineForChild = performance.now() + 5_000;
    while (childrenSince(before).length === 0 && !settled && performance.now() < deadlineForChild) await sleep(20);
    const children = childrenSince(before);
    if (children.length === 0) {
      const outcome = await settlementWithin(building, 0);
      expect.fail(
        `No child process was started to render the page ${outcome.state === 'pending' ? 'within 5 s of the call' : `before buildReport ${settledAs(outcome)}`}: ` +
          `render it in a child running render.ts.${log()}`,
      );
    }
    await sleep(200);
    const reason = new ClientGone('the client went away during the render');
    caller.abort(reason);
    let runningAtRejection: ChildProcess[] = [];
    const outcome = await settlementWithin(
      building.catch((error: unknown) => {
        runningAtRejection = children.filter(isChildAlive);
        throw error;
      }),
      3_000,
    );
    await sleep(1_000);
    const runningStill = children.filter(isChildAlive);
    if (runningStill.length > 0) {
      expect.fail(
        `The caller aborted while the child rendered a slow page, and 1 s after buildReport ${outcome.state === 'pending' ? 'should have settled' : outcome.state} ` +
          `the child (pid ${runningStill[0]!.pid}) was still running: the abort never reached it. Give spawn the signal ` +
          `(spawn(..., { signal }) kills the child when it aborts), or kill the child yourself on abort.`,
      );
    }
    expect(
      runningAtRejection.length,
      `buildReport rejected while the child (pid ${runningAtRejection[0]?.pid}) was still running; it exited a moment later. ` +
        `An aborted spawn emits 'error' at once, before the child has exited: settle on 'close' instead, so that nothing of the ` +
        `build is left when the caller hears of the abort.`,
    ).toBe(0);
    expect(outcome.state === 'rejected' && outcome.reason === reason, `${notTheReason(outcome, reason, 'the reason the caller aborted with')}.`).toBe(true);
  });

  test('an already aborted signal rejects with its reason, and starts no request, child or timer', async () => {
    const before = spawnLog().children.length;
    const caller = new AbortController();
    const reason = new ClientGone('gone before the call');
    caller.abort(reason);
    const timers = watchTimers();
    let outcome: Settlement<string>;
    let pending: number[];
    try {
      outcome = await settlementWithin(start(server.url('/report/3'), { signal: caller.signal, timeoutMs: 10_000, retryDelayMs: 50 }), 5_000);
      await sleep(100);
      pending = timers.pending();
    } finally {
      timers.stop();
    }
    const started = childrenSince(before).length;
    expect(
      { requests: server.total, children: started },
      `buildReport was called with a signal aborted already, and ${outcome.state === 'pending' ? 'had not settled 5 s later' : outcome.state}; ` +
        `the server got ${server.total} request(s) and ${started} child process(es) started. Check signal.aborted (or call ` +
        `signal.throwIfAborted()) before starting anything: an 'abort' listener added to a signal aborted already never runs.${log()}`,
    ).toEqual({ requests: 0, children: 0 });
    expect(outcome.state === 'rejected' && outcome.reason === reason, `${notTheReason(outcome, reason, 'the reason the signal was aborted with')}.`).toBe(true);
    expect(
      pending,
      `buildReport rejected for a signal aborted already, and ${pending.length} timer(s) it started (of ${pending.map((delay) => `${delay} ms`).join(', ')}) ` +
        'were still pending: nothing may be started for it, a deadline included. Check the signal before you start the deadline, or clear it on every way out.',
    ).toEqual([]);
  });

  test('calls with a signal aborted already leave no listener on it, however many calls share it', async () => {
    const caller = new AbortController();
    caller.abort(new ClientGone('gone before the calls'));
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, (_, index) =>
        settlementWithin(start(server.url(`/report/late-${index}`), { signal: caller.signal, timeoutMs: 10_000, retryDelayMs: 50 }), 5_000),
      ),
    );
    const unsettled = outcomes.filter((outcome) => outcome.state === 'pending').length;
    expect(
      unsettled,
      `12 builds were called with one caller's signal, aborted before the first call, and ${unsettled} of them had not ` +
        `settled 5 s later: a signal aborted already rejects at once.${log()}`,
    ).toBe(0);
    await nextTurn();
    const left = getEventListeners(caller.signal, 'abort').length;
    expect(
      left,
      `12 builds were called with one caller's signal that was aborted already, and once all had settled the signal held ` +
        `${left} 'abort' listener(s): a listener added to a signal aborted already (it will never fire), then left behind on ` +
        `the way out for that signal, which skipped the code that removes it. A signal that stays aborted (a session ended ` +
        `once) collects one per later call. Check signal.aborted before you add anything, or remove the listener on that ` +
        `way out too.`,
    ).toBe(0);
  });
});

describe('buildReport: the deadline', () => {
  test('the deadline alone rejects with a TimeoutError no earlier than timeoutMs, and closes the connection', async () => {
    server.route('/report/held', { held: true });
    const started = performance.now();
    const outcome = await settlementWithin(start(server.url('/report/held'), { timeoutMs: 400, retryDelayMs: 50 }), 3_000, started);
    const closed = await server.until(() => requestsFor('/report/held')[0]?.ending === 'client-closed', 1_000);
    expect(outcome.state, `With timeoutMs 400 and a server that never answered, buildReport had not settled 3 s after the call.${log()}`).not.toBe('pending');
    expect(
      outcome.state === 'rejected' && isTimeoutError(outcome.reason),
      `${notTheReason(outcome, new DOMException('The operation was aborted due to timeout', 'TimeoutError'), 'a TimeoutError')}: ` +
        `when the deadline passes, reject with the reason AbortSignal.timeout() gives.`,
    ).toBe(true);
    expect(
      closed,
      `buildReport rejected after ${Math.round((outcome as { atMs: number }).atMs)} ms, but the server still had the request open 1 s later: ` +
        `the deadline stopped the wait for the answer, not the request (a race against a timer). Let the deadline abort fetch's signal.${log()}`,
    ).toBe(true);
    expect((outcome as { atMs: number }).atMs, 'buildReport rejected before timeoutMs (400 ms) had passed.').toBeGreaterThanOrEqual(395);
  });

  test('the deadline still applies when the caller passes a signal that never aborts', async () => {
    server.route('/report/held', { held: true });
    const outcome = await settlementWithin(
      start(server.url('/report/held'), { signal: new AbortController().signal, timeoutMs: 400, retryDelayMs: 50 }),
      3_000,
    );
    expect(
      outcome.state === 'rejected' && isTimeoutError(outcome.reason),
      `With a caller's signal that never aborted and timeoutMs 400, ${notTheReason(outcome, new DOMException('', 'TimeoutError'), 'a TimeoutError')} ` +
        `3 s after the call: the deadline did not apply because a signal was given. Combine both: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]).${log()}`,
    ).toBe(true);
  });

  test('the deadline covers the render too: a slow render is stopped with a TimeoutError, its child exited', async () => {
    const before = spawnLog().children.length;
    let runningAtRejection: ChildProcess[] = [];
    const outcome = await settlementWithin(
      start(server.url('/report/slow'), { timeoutMs: 3_000, retryDelayMs: 50 }).catch((error: unknown) => {
        runningAtRejection = childrenSince(before).filter(isChildAlive);
        throw error;
      }),
      8_000,
    );
    const children = childrenSince(before);
    expect(children.length, 'No child process was started to render the page within the 3 s deadline.').toBeGreaterThan(0);
    expect(
      outcome.state,
      `The page takes render.ts 30 s, and 8 s after the call, with timeoutMs 3,000, buildReport had not settled ` +
        `(${children.filter(isChildAlive).length} child(ren) still running): the deadline did not reach the child. It covers the ` +
        `whole build: hand the child the same signal as fetch.`,
    ).not.toBe('pending');
    expect(
      outcome.state === 'rejected' && isTimeoutError(outcome.reason),
      `${notTheReason(outcome, new DOMException('', 'TimeoutError'), 'a TimeoutError')}, when the deadline passed during the render.`,
    ).toBe(true);
    expect(
      runningAtRejection.length,
      `buildReport rejected while the child (pid ${runningAtRejection[0]?.pid}) was still running: settle once it has exited.`,
    ).toBe(0);
  });

  test('the deadline ends the wait before the retry: a TimeoutError long before retryDelayMs, its timer cleared, no second request', async () => {
    server.route('/report/busy', { status: 503 });
    const timers = watchTimers();
    try {
      const calledAt = server.now();
      const started = performance.now();
      const building = start(server.url('/report/busy'), { signal: new AbortController().signal, timeoutMs: 1_500, retryDelayMs: 10_000 });
      const outcome = await settlementWithin(building, 5_000, started);
      await nextTurn();
      const left = timers.pending();
      await sleep(300);
      const [first] = requestsFor('/report/busy');
      const answeredAfter = first?.ending === 'answered' && first.endedAt !== undefined ? first.endedAt - calledAt : undefined;
      if (answeredAfter === undefined || answeredAfter >= 1_500) {
        expect.fail(
          `The server had not answered the first request (503) before the 1,500 ms deadline passed (${answeredAfter === undefined ? 'not at all' : `${Math.round(answeredAfter)} ms after the call`}), ` +
            `so this run never saw the wait before the retry; buildReport ${outcome.state === 'pending' ? 'had not settled 5 s after the call' : settledAs(outcome)}.${log()}`,
        );
      }
      const timersShown = left.map((delay) => `${delay} ms`).join(', ');
      expect(
        outcome.state,
        `With timeoutMs 1,500 and retryDelayMs 10,000, the server answered 503 ${Math.round(answeredAfter)} ms after the call, and 5 s ` +
          `after the call buildReport had not settled, with ${left.length} timer(s) of its own pending (${timersShown}): the deadline did not end ` +
          `the wait before the retry. The deadline is for the whole build: the wait takes the same combined signal as fetch and the child.${log()}`,
      ).not.toBe('pending');
      expect(
        outcome.state === 'rejected' && isTimeoutError(outcome.reason),
        `${notTheReason(outcome, new DOMException('', 'TimeoutError'), 'a TimeoutError')}, when the deadline passed during the wait before the retry.`,
      ).toBe(true);
      expect(
        (outcome as { atMs: number }).atMs,
        'buildReport rejected during the wait before the retry, before timeoutMs (1,500 ms) had passed.',
      ).toBeGreaterThanOrEqual(1_450);
      expect(
        left,
        `buildReport rejected with a TimeoutError during the wait before the retry, but ${left.length} timer(s) it started (of ${timersShown}) ` +
          `were still pending: the deadline ended the build's promise, not its wait. Hand the wait the signal that carries the deadline, ` +
          `so that the deadline clears its timer.`,
      ).toEqual([]);
      expect(requestsFor('/report/busy').length, `A second request came after the deadline had passed during the wait.${log()}`).toBe(1);
    } finally {
      timers.stop();
    }
  });

  test('the deadline ends a retry the server holds: a TimeoutError, and that connection closed', { timeout: 30_000 }, async () => {
    server.route('/report/busy', { status: 503 });
    const started = performance.now();
    const building = start(server.url('/report/busy'), { signal: new AbortController().signal, timeoutMs: 4_000, retryDelayMs: 300 });
    const unanswered = await serverSees(building, () => requestsFor('/report/busy')[0]?.ending === 'answered', 4_000);
    expect(unanswered, `The first request was not answered (503) ${unanswered}.${log()}`).toBeUndefined();
    server.route('/report/busy', { held: true });
    const noRetry = await serverSees(building, () => requestsFor('/report/busy').length > 1, 4_000);
    expect(noRetry, `The server answered 503, and the retry did not come ${noRetry} (retryDelayMs 300, timeoutMs 4,000).${log()}`).toBeUndefined();
    const outcome = await settlementWithin(building, 8_000);
    const closed = await server.until(() => requestsFor('/report/busy')[1]!.ending === 'client-closed', 1_000);
    if (outcome.state === 'pending') {
      expect.fail(
        `With timeoutMs 4,000, the server held the retried request, and ${Math.round((performance.now() - started) / 1_000)} s after ` +
          `the call buildReport had not settled, the retry ${closed ? 'closed' : 'still open'}: the deadline never reached the ` +
          `retry's fetch. The deadline is for the whole build: every request takes the one signal that carries it, the retry too.${log()}`,
      );
    }
    expect(
      outcome.state === 'rejected' && isTimeoutError(outcome.reason),
      `${notTheReason(outcome, new DOMException('', 'TimeoutError'), 'a TimeoutError')}, when the deadline passed while the server held the retry.`,
    ).toBe(true);
    expect(
      closed,
      `buildReport rejected with a TimeoutError while the server held the retried request, and 1 s later the server still had ` +
        `that request open: the deadline ended the build's promise, not the retry. Hand the retry's fetch the signal that ` +
        `carries the deadline.${log()}`,
    ).toBe(true);
  });

  test('the deadline is counted from the call: stages that each end within timeoutMs, but not together, are stopped at timeoutMs', async () => {
    // The first answer (a 503) takes 600 ms, the wait before the retry 600 ms, the retried answer 600 ms, and the page takes
    // render.ts 30 s: each stage but the render ends within timeoutMs (1,000 ms), and the deadline, counted from the call, passes
    // during the wait, about 1,000 ms after the call. A deadline started again for each stage passes 1,000 ms into the render,
    // 2,800 ms after the call at the earliest.
    const pathname = '/report/slow-stages';
    server.route(pathname, { status: 503, delayMs: 600 });
    const started = performance.now();
    const calledAt = server.now();
    const building = start(server.url(pathname), { timeoutMs: 1_000, retryDelayMs: 600 });
    // The retry gets the 600 ms answer, should one come; a first request that never came (a test thread stalled past the
    // deadline before fetch could send it) leaves nothing to route, and a right answer has rejected by then.
    await serverSees(building, () => requestsFor(pathname).length > 0, 3_000);
    server.route(pathname, { delayMs: 600 });
    const outcome = await settlementWithin(building, 6_000, started);
    const [, retry] = requestsFor(pathname);
    const retryAt = retry === undefined ? undefined : Math.round(retry.arrivedAt - calledAt);
    // Judged by what the server saw, not by the clock: the deadline (due 1,000 ms after the call) always comes before the end of
    // the wait (due 600 ms after the 503, itself at least 600 ms after the call), so no retry is ever sent. A deadline started
    // again for each stage lets the wait end and sends the retry.
    expect(
      outcome.state === 'rejected' && isTimeoutError(outcome.reason) && retry === undefined,
      `With timeoutMs 1,000, the first answer (503) took 600 ms, the wait before the retry 600 ms, the retried answer 600 ms, ` +
        `and the render 30 s; the deadline, counted from the call, passes during the wait: buildReport should reject with a ` +
        `TimeoutError about 1,000 ms after the call, before any retry. It ` +
        (outcome.state === 'pending'
          ? 'had not settled 6 s after the call. '
          : `${outcome.state === 'resolved' ? `resolved with ${JSON.stringify(outcome.value)}` : `rejected with ${shownReason(outcome.reason)}`} ` +
            `${Math.round(outcome.atMs)} ms after the call. `) +
        (retryAt !== undefined
          ? `The retried request reached the server ${retryAt} ms after the call, past the deadline: the deadline was ` +
            `started again for a stage (a timeout of timeoutMs for each) instead of once, at the call. Make one deadline at the ` +
            `call and hand its signal to every stage.`
          : '') +
        log(),
    ).toBe(true);
  });
});
