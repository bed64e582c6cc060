import { EventEmitter } from 'node:events';
import { threadId as mainThreadId } from 'node:worker_threads';
import { describe, expect, test } from 'vitest';
import { settlementWithin, shownReason, sleep, spawnLog, valueWithin, within } from '#kata/testing/index.ts';
import { bindToRequest, currentRequestId, reportOnWorker, runRequest } from './context.ts';

const shown = (value: unknown) => (value === undefined ? 'undefined' : JSON.stringify(value));

/** The places where a read gave something other than what was expected, as a sentence. */
function misreads(reads: Record<string, unknown>, expected: unknown): string {
  return Object.entries(reads)
    .filter(([, value]) => value !== expected)
    .map(([where, value]) => `${where}: ${shown(value)}`)
    .join(', ');
}

/**
 * Explains a rejection of `called` (a runRequest call, as the test made it) whose work, `work`,
 * throws nothing of its own: the test expected it to resolve.
 */
const requestRejected = (called: string, work: string) => (reason: unknown) =>
  `${called} rejected with ${shownReason(reason)}, where the test expected it to resolve: ${work}, and throws nothing of its own.`;

describe('runRequest and currentRequestId', () => {
  test('give every part of a request its id: after awaits, in timers, promise callbacks and immediates', async () => {
    const reads: Record<string, string | undefined> = {};
    await valueWithin(
      2_000,
      runRequest('req-1', async () => {
        reads['at the start'] = currentRequestId();
        await sleep(5);
        reads['after an await'] = currentRequestId();
        await new Promise<void>((resolve) =>
          setTimeout(() => {
            reads['in a timer'] = currentRequestId();
            resolve();
          }, 5),
        );
        await Promise.resolve().then(() => (reads['in a .then callback'] = currentRequestId()));
        await new Promise<void>((resolve) =>
          setImmediate(() => {
            reads['in an immediate'] = currentRequestId();
            resolve();
          }),
        );
      }),
      'runRequest("req-1", work) did not settle within 2 s of a work that takes about 15 ms',
      requestRejected(
        'runRequest("req-1", work)',
        'its work reads currentRequestId() at its start and after each of a sleep, a timer, a promise callback and an immediate',
      ),
    );
    const wrong = misreads(reads, 'req-1');
    const never = reads['at the start'] !== 'req-1' && Object.values(reads).every((value) => value !== 'req-1');
    expect(
      wrong,
      `Inside runRequest("req-1", work), currentRequestId() returned, where it was not "req-1": ${wrong}. ` +
        (never
          ? "Not even the work's first line saw the id: work was called outside the context that holds it (called before run(), or run() given something else)."
          : 'The id was lost on the way: only code started inside the context keeps it; AsyncLocalStorage.run(id, work) gives work and everything it starts the id.'),
    ).toBe('');
  });

  test('let requests that overlap each see only their own id', async () => {
    const delays: Record<string, number[]> = { 'req-a': [30, 5, 20], 'req-b': [10, 25, 5], 'req-c': [20, 10, 15] };
    const reads: Array<{ request: string; after: number; saw: string | undefined }> = [];
    await valueWithin(
      3_000,
      Promise.all(
        Object.entries(delays).map(([request, waits]) =>
          runRequest(request, async () => {
            for (const [index, ms] of waits.entries()) {
              await sleep(ms);
              reads.push({ request, after: index + 1, saw: currentRequestId() });
            }
          }),
        ),
      ),
      '3 requests, each awaiting 3 timers of at most 30 ms, did not all settle within 3 s',
      requestRejected(
        'One of 3 overlapping calls runRequest("req-a" / "req-b" / "req-c", work)',
        'each work awaits 3 timers of at most 30 ms, reading currentRequestId() after each',
      ),
    );
    const others = reads.filter(({ request, saw }) => saw !== request);
    const example = others[0];
    const ids = Object.keys(delays);
    expect(
      others.length,
      `3 requests ran at once, each reading its id after each of 3 awaits; ${others.length} of ${reads.length} reads gave something else` +
        (example ? `: ${example.request}, after its await ${example.after}, read ${shown(example.saw)}` : '') +
        `. ${others.some(({ saw }) => saw !== undefined && ids.includes(saw)) ? "A request read another request's id: the id came from a value every request shares (one variable, holding whichever request set it last), not from the request's own context. " : ''}` +
        'Each request needs a context of its own that follows its awaits: AsyncLocalStorage.run.',
    ).toBe(0);
  });

  test("leave the caller's context as they found it: undefined outside any request, the outer id back after an inner request", async () => {
    const reads: Record<string, string | undefined> = {};
    reads['before any request'] = currentRequestId();
    const running = runRequest('req-1', async () => {
      await sleep(10);
    });
    reads['right after runRequest("req-1") returned'] = currentRequestId();
    await valueWithin(
      2_000,
      running,
      'runRequest("req-1", work) did not settle within 2 s of a 10 ms work',
      requestRejected('runRequest("req-1", work)', 'its work only awaits a 10 ms sleep'),
    );
    reads['once its work was done'] = currentRequestId();
    const outer: Record<string, string | undefined> = {};
    await valueWithin(
      2_000,
      runRequest('outer', async () => {
        await runRequest('inner', async () => {
          outer['the inner request'] = currentRequestId();
        });
        outer['the outer one, after the inner request'] = currentRequestId();
      }),
      'a request inside a request did not settle within 2 s',
      requestRejected(
        'runRequest("outer", work)',
        'its work awaits runRequest("inner", work) (whose work only reads currentRequestId()), then reads currentRequestId() itself',
      ),
    );
    const leaked = misreads(reads, undefined);
    expect(
      leaked,
      `The test's own code, outside any request, read: ${leaked}. The request's id leaked into its caller: it was set in the ` +
        "caller's context (AsyncLocalStorage.enterWith sets it for the rest of the caller's code) or in a variable the caller reads " +
        'too. run() confines the id to the work it runs.',
    ).toBe('');
    expect(
      outer,
      `A request inside a request read ${shown(outer['the inner request'])}, and the outer one, after it, read ` +
        `${shown(outer['the outer one, after the inner request'])}: each must see its own, and the inner request must give the outer one its id back.`,
    ).toEqual({ 'the inner request': 'inner', 'the outer one, after the inner request': 'outer' });
  });

  test('resolve with what the work resolves with, and reject with what it throws', async () => {
    const value = { answer: 42 };
    const resolved = await valueWithin(
      2_000,
      runRequest('req-1', async () => value),
      'runRequest did not settle within 2 s',
      (reason) =>
        `runRequest("req-1", async () => value) rejected with ${shownReason(reason)}, but that work resolves with ${shown(value)} ` +
        'and throws nothing: runRequest should resolve with what its work resolves with.',
    );
    expect(resolved, `runRequest resolved with ${shown(resolved)}, and its work with ${shown(value)}: return what the work resolves with, unchanged.`).toBe(
      value,
    );
    const thrown = new Error('the work failed on purpose');
    const failure = await within(
      2_000,
      runRequest('req-2', async () => {
        await sleep(1);
        throw thrown;
      }).then(
        (result) => `resolved with ${shown(result)}`,
        (reason: unknown) => reason,
      ),
      'runRequest did not settle within 2 s of a work that throws',
    );
    expect(
      failure === thrown,
      `The work threw ${thrown}, and runRequest ${typeof failure === 'string' ? failure : `rejected with ${String(failure)}`}: reject with the work's own error.`,
    ).toBe(true);
    // A work may throw anything, not only an Error: each value must come back as the very value thrown.
    const notErrors: Array<[string, unknown]> = [
      ['the string "card declined"', 'card declined'],
      ['undefined', undefined],
      ['the plain object { code: 402 }', { code: 402 }],
    ];
    const outcomes = await within(
      2_000,
      Promise.all(
        notErrors.map(([, value], index) =>
          runRequest(`req-${3 + index}`, async () => {
            await sleep(1);
            throw value;
          }).then(
            (result): { resolved: unknown } | { rejected: unknown } => ({ resolved: result }),
            (reason: unknown) => ({ rejected: reason }),
          ),
        ),
      ),
      'runRequest did not settle within 2 s of a work that throws something other than an Error',
    );
    const changed = notErrors.flatMap(([what, value], index) => {
      const outcome = outcomes[index]!;
      if ('rejected' in outcome && Object.is(outcome.rejected, value)) return [];
      if ('resolved' in outcome) return [`the work threw ${what}, and runRequest resolved with ${shownReason(outcome.resolved)}`];
      const reason = outcome.rejected;
      const wrapped = reason instanceof Error && Object.is(reason.cause, value) ? ' (an Error whose cause is the value thrown)' : '';
      return [`the work threw ${what}, and runRequest rejected with ${shownReason(reason)}${wrapped}`];
    });
    expect(
      changed,
      `A work threw something that is not an Error, and runRequest did not reject with that very value: ${changed.join('; ')}. ` +
        'Reject with exactly what the work threw, whatever it is: a caller may test for that very value (a string code, an ' +
        'object with fields), and a wrapper or a copy hides it.',
    ).toEqual([]);
  });
});

describe('bindToRequest', () => {
  test('runs the function as the request that bound it, whoever calls it later, with its arguments and result', async () => {
    const emitter = new EventEmitter();
    const heard: Array<string | undefined> = [];
    /** runRequest(id, work) for work that only binds or calls a bound function, which throws nothing of its own. */
    const request = <T>(id: string, work: () => Promise<T>, does: string): Promise<T> =>
      valueWithin(2_000, runRequest(id, work), `runRequest("${id}", work) never settled`, requestRejected(`runRequest("${id}", work)`, `its work ${does}`));
    await request(
      'req-listener',
      async () => {
        emitter.on(
          'ping',
          bindToRequest(() => heard.push(currentRequestId())),
        );
      },
      'binds a listener to an emitter',
    );
    let kept: ((a: number, b: number) => { sum: number; saw: string | undefined }) | undefined;
    await request(
      'req-kept',
      async () => {
        kept = bindToRequest((a: number, b: number) => ({ sum: a + b, saw: currentRequestId() }));
      },
      'binds a function and keeps it',
    );
    await request(
      'req-emitter',
      async () => {
        emitter.emit('ping');
      },
      'emits an event whose listener pushes what currentRequestId() returns',
    );
    emitter.emit('ping');
    const keptCalls = [kept!(1, 2), await request('req-other', async () => kept!(3, 4), 'calls the kept function, which adds two numbers')];
    expect(
      heard,
      `A listener bound by "req-listener" was called by an emit inside "req-emitter" and by one outside any request, and read ` +
        `${heard.map(shown).join(' and ')}. ${heard[0] === 'req-emitter' ? "It ran in the emitter's context: an emitter calls its listeners in the context of the emit. " : ''}` +
        'Capture the context when bindToRequest is called (AsyncResource.bind, or AsyncLocalStorage.snapshot()) and run fn in it on every call.',
    ).toEqual(['req-listener', 'req-listener']);
    expect(
      keptCalls.map(({ saw }) => saw),
      `A function bound by "req-kept", called outside any request and inside "req-other", read ${keptCalls.map(({ saw }) => shown(saw)).join(' and ')}: it must run as "req-kept" whoever calls it.`,
    ).toEqual(['req-kept', 'req-kept']);
    expect(
      keptCalls.map(({ sum }) => sum),
      `The bound function was called with (1, 2) and (3, 4), and returned sums of ${keptCalls.map(({ sum }) => shown(sum)).join(' and ')}: pass the arguments on, and return fn's result.`,
    ).toEqual([3, 7]);
  });

  test('binds anew on every call: the same function bound by two requests runs as each of them', async () => {
    const whoAmI = (tag: string) => ({ tag, saw: currentRequestId() });
    const bindings: Array<(tag: string) => { tag: string; saw: string | undefined }> = [];
    for (const id of ['req-first', 'req-second']) {
      await valueWithin(
        2_000,
        runRequest(id, async () => {
          bindings.push(bindToRequest(whoAmI));
        }),
        `runRequest("${id}", work) never settled`,
        requestRejected(`runRequest("${id}", work)`, 'its work only binds a function and keeps it'),
      );
    }
    const first = bindings[0]!;
    const second = bindings[1]!;
    // Called in the other order, one outside any request and one inside a third.
    const calls = [
      second('second'),
      await valueWithin(
        2_000,
        runRequest('req-third', async () => first('first')),
        'runRequest("req-third", work) never settled',
        requestRejected('runRequest("req-third", work)', 'its work only calls a bound function, which reads currentRequestId()'),
      ),
    ];
    expect(
      calls.map((call) => call?.saw),
      `One function was bound by "req-first" and then by "req-second"; called later, the binding made in "req-second" read ${shown(calls[0]?.saw)} ` +
        `and the one made in "req-first" read ${shown(calls[1]?.saw)}. Each call of bindToRequest binds to the request making that call, ` +
        'even for a function bound before.' +
        (first === second
          ? ' Both calls of bindToRequest returned the very same function: the second request got the binding made for the first. Make a new binding on every call.'
          : ''),
    ).toEqual(['req-second', 'req-first']);
  });

  test('a function bound outside any request runs outside any request, whoever calls it', async () => {
    const bound = bindToRequest((tag: string) => ({ tag, saw: currentRequestId() }));
    const calls = [
      bound('outside'),
      await valueWithin(
        2_000,
        runRequest('req-caller', async () => bound('inside')),
        'runRequest("req-caller", work) never settled',
        requestRejected('runRequest("req-caller", work)', 'its work only calls a bound function, which reads currentRequestId()'),
      ),
    ];
    expect(
      calls.map((call) => call?.saw),
      `A function bound by the test's own code, outside any request, read ${shown(calls[0]?.saw)} when called outside any request and ` +
        `${shown(calls[1]?.saw)} when called inside "req-caller". It runs as whoever called bindToRequest, and that was no request: ` +
        'currentRequestId() must return undefined in it, whoever calls it.' +
        (calls[1]?.saw === 'req-caller'
          ? ' It ran as its caller: bindToRequest kept nothing when no request was current. An empty context is a context too: capture it all the same (AsyncResource.bind, or AsyncLocalStorage.snapshot()).'
          : ''),
    ).toEqual([undefined, undefined]);
  });
});

describe('reportOnWorker', () => {
  test('runs report on a worker thread, as the request that called it', async () => {
    const results = await valueWithin(
      10_000,
      Promise.all(
        ['req-a', 'req-b', 'req-c'].map((request, index) =>
          runRequest(request, async () => {
            await sleep(index * 5);
            return { request, report: await reportOnWorker(`task of ${request}`) };
          }),
        ),
      ),
      'reportOnWorker did not settle within 10 s in 3 overlapping requests',
      (reason) =>
        `In 3 overlapping requests (req-a, req-b, req-c), a call reportOnWorker("task of <request>") or its runRequest rejected with ${shownReason(reason)}, ` +
        'where the test expected each to resolve with the Report its worker posted: nothing in this test ends a worker early.',
    );
    for (const { request, report } of results) {
      expect(report?.task, `reportOnWorker("task of ${request}") resolved with ${shown(report)}: resolve with the Report the worker posted.`).toBe(
        `task of ${request}`,
      );
      expect(
        report.threadId,
        `The report for ${request} was made on thread ${report.threadId}, the main thread: run report(task) in the worker, not beside it.`,
      ).not.toBe(mainThreadId);
      expect(
        report.requestId,
        `On the worker, report("task of ${request}") read the request id ${shown(report.requestId)}, in a request called "${request}". ` +
          (report.requestId === undefined
            ? "A worker has a storage of its own, empty: nothing of the main thread's context crosses to it. Send the id with the task (workerData) and make it current in the worker (runRequest there)."
            : "The worker was given another request's id: read it with currentRequestId() when reportOnWorker is called, inside the request."),
      ).toBe(request);
    }
  });

  test('called outside any request, runs report on the worker outside any request too', { timeout: 40_000 }, async () => {
    // The test's own code calls it, in no request: currentRequestId() is undefined here.
    const report = await valueWithin(
      10_000,
      reportOnWorker('task of no request'),
      'reportOnWorker("task of no request"), called outside any request, did not settle within 5 s',
      (reason) =>
        `reportOnWorker("task of no request"), called by the test's own code outside any request, rejected with ${shownReason(reason)}, ` +
        'where the test expected the Report its worker posted: nothing in this test ends the worker early.',
    );
    expect(report?.task, `reportOnWorker("task of no request") resolved with ${shown(report)}: resolve with the Report the worker posted.`).toBe(
      'task of no request',
    );
    expect(
      report.requestId,
      `Called outside any request, reportOnWorker("task of no request") had report read the request id ${shown(report.requestId)} on the worker. ` +
        'No request called it, so report must see none there: currentRequestId() returns undefined, as it does on the main thread outside any request.' +
        (report.requestId === 'undefined'
          ? ' It read the text "undefined": the missing id became a string on its way to the worker (a command-line argument, a template ' +
            'string or String() does that). Send it as it is, and make a request current in the worker only when there was one.'
          : ''),
    ).toBe(undefined);
  });

  test('rejects when its worker ends before it reports', async () => {
    const log = spawnLog();
    const before = log.workers.length;
    const calling = runRequest('req-a', () => reportOnWorker('task of req-a'));
    const worker = log.workers[before];
    if (worker === undefined) expect.fail('reportOnWorker("task of req-a") started no worker thread: run report on one.');
    // Ended before it can run a line of its own: as a crash or a kill would end it.
    await worker.terminate();
    const outcome = await settlementWithin(calling, 5_000);
    expect(
      outcome.state,
      outcome.state === 'pending'
        ? 'The worker was ended before it could report (terminate(), as a crash or a kill would end it), and 5 s later ' +
            "reportOnWorker had not settled: it waits for a report that never comes. Settle on the worker's 'exit' event, and reject " +
            'there when no report came.'
        : `The worker was ended before it could report, and reportOnWorker resolved with ${shown((outcome as { value: unknown }).value)}: reject when no report came.`,
    ).toBe('rejected');
  });

  test('settles only once its worker has exited', async () => {
    const log = spawnLog();
    for (const request of ['req-a', 'req-b', 'req-c']) {
      const before = log.workers.length;
      const running = () => log.workers.slice(before).filter((worker) => !log.exitedWorkers.has(worker)).length;
      const atSettle = await valueWithin(
        5_000,
        runRequest(request, () => reportOnWorker(`task of ${request}`)).then(() => ({ started: log.workers.length - before, running: running() })),
        `reportOnWorker did not settle within 5 s in ${request}`,
        (reason) =>
          `reportOnWorker("task of ${request}"), run in runRequest("${request}"), rejected with ${shownReason(reason)}, where the test expected ` +
          'the Report its worker posted, once that worker had exited: nothing in this test ends the worker early.',
      );
      expect(atSettle.started, `reportOnWorker("task of ${request}") started ${atSettle.started} worker threads: start one, and run report on it.`).toBe(1);
      expect(
        atSettle.running,
        `When reportOnWorker's promise settled, its worker had not exited yet: it settled on the report, with the thread still ` +
          "running. Keep the report, and settle on the worker's 'exit' event.",
      ).toBe(0);
    }
  });
});
