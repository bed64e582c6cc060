import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { isNotImplemented, settlementWithin, shownReason, sleep, valueWithin, within } from '#kata/testing/index.ts';
import { loopbackServerForEachTest } from '#kata/testing/loopback-each-test.ts';
import type { LoopbackServer } from '#kata/testing/loopback-server.ts';
import { singleFlight } from './single-flight.ts';

// A real HTTP server on 127.0.0.1; `load` fetches /user/<key> from it. The tests count what the
// server saw for each key, and the calls of `load`. `?held=1`-style routes make the server hold
// an answer until the test releases it, so a call stays in flight for as long as a test needs.
let server: LoopbackServer;
/** Every get() a test starts, observed, so a test that gave up on one leaves no unhandled rejection. */
const gets = loopbackServerForEachTest((running) => (server = running));

/** The error `load` rejects with when the server answers with a failing status. */
class LoadError extends Error {
  override name = 'LoadError';
}

/** A `load` that fetches /user/<key>, and the keys it was called with, in order. */
function countedLoad() {
  const calls: string[] = [];
  const load = async (key: string): Promise<string> => {
    calls.push(key);
    const response = await fetch(server.url(`/user/${key}`));
    const body = await response.text();
    if (!response.ok) throw new LoadError(`the server answered ${response.status} for ${key}`);
    return body;
  };
  return { calls, load };
}

/** singleFlight(load), with each get() it returns recorded so that the tests' clean-up can wait for it. */
function wrapped(load: (key: string) => Promise<string>): (key: string) => Promise<string> {
  const get = singleFlight(load);
  return (key) => {
    const promise = get(key);
    gets.track(promise);
    return promise;
  };
}

const requestsFor = (key: string) => server.requests.filter((request) => request.pathname === `/user/${key}`).length;
const body = (key: string) => `page /user/${key}`;
const log = () => `\n  the server saw:\n${server.timeline.toText()}\n`;

/** Waits for every promise; a rejection is explained, unless it is the stub's or a deadline's. */
function allOf(gets: Array<Promise<string>>, what: string): Promise<string[]> {
  return valueWithin(
    5_000,
    Promise.all(gets),
    `${what}: not every get() settled within 5 s after the server answered`,
    (reason) => `${what}: a get() rejected with "${(reason as Error)?.message ?? String(reason)}", although the server answered 200.`,
  );
}

describe('singleFlight: sharing a call in flight', () => {
  test('100 callers for one key at once share one request, and all get its body', async () => {
    server.route('/user/ada', { held: true });
    const { calls, load } = countedLoad();
    const get = wrapped(load);
    const gets = Array.from({ length: 100 }, () => get('ada'));
    await server.until(() => server.total > 0, 2_000);
    // Every call that will be made has been made by now: give their requests time to reach the server.
    await sleep(200);
    server.release('/user/ada');
    const bodies = await allOf(gets, '100 callers for "ada"');
    const requests = requestsFor('ada');
    const reading =
      requests === 0
        ? `no request reached the server at all (load was called ${calls.length} times)`
        : requests >= 100
          ? `no caller shared a call, each called load itself. A call is shared only if its promise is stored before anything is ` +
            `awaited (a value stored once it has arrived comes too late for every caller that came meanwhile)`
          : `load was called ${calls.length} times: some callers shared a call, others started their own. While a call for a key ` +
            `is in flight, every caller for that key must get that same call`;
    expect(requests, `The server got ${requests} requests for /user/ada from 100 callers that called at once: ${reading}.${log()}`).toBe(1);
    expect(bodies, 'Every caller must get the body the server sent for /user/ada.').toEqual(Array(100).fill(body('ada')));
  });

  test('every caller gets the very value load resolved with, not a copy', async () => {
    const value = { user: 'ada', visits: [1, 2, 3] };
    const get = singleFlight(async (_key: string) => (await sleep(20), value));
    const values = await valueWithin(
      5_000,
      Promise.all([get('ada'), get('ada'), get('ada')]),
      'get("ada") did not settle within 5 s of a 20 ms load',
      (reason) =>
        `One of 3 calls get("ada") rejected with ${shownReason(reason)}, but its load cannot fail: it resolves with one object after 20 ms, ` +
        'and every caller should get that object.',
    );
    const copies = values.filter((got) => got !== value).length;
    expect(
      copies,
      `${copies} of 3 callers got a value equal to the one load resolved with, but not that object itself: a copy (structuredClone, ` +
        'JSON, spread). Hand every caller the value itself: copying costs time and memory, and some values cannot be copied at all.',
    ).toBe(0);
  });

  test('a caller that comes while the request is in flight joins it, many turns later', async () => {
    server.route('/user/ada', { held: true });
    const { calls, load } = countedLoad();
    const get = wrapped(load);
    const early = Array.from({ length: 10 }, () => get('ada'));
    // The request has reached the server, many turns of the event loop after the first callers.
    const arrived = await server.until(() => requestsFor('ada') > 0, 2_000);
    expect(arrived, `10 callers asked for "ada", and no request reached the server within 2 s: load was never called.${log()}`).toBe(true);
    await sleep(50);
    const fromEarly = requestsFor('ada');
    const late = Array.from({ length: 10 }, () => get('ada'));
    await sleep(200);
    const fromLate = requestsFor('ada') - fromEarly;
    server.release('/user/ada');
    const bodies = await allOf([...early, ...late], '20 callers for "ada"');
    const afterAll = requestsFor('ada');
    expect(
      fromEarly,
      `10 callers came at once, and the server got ${fromEarly} requests from them: they did not share one call. While a call ` +
        `for a key is in flight, every caller for that key must get that same call.${log()}`,
    ).toBe(1);
    expect(
      { whileHeld: fromLate, inAll: afterAll },
      `10 more callers came once the first callers' request had reached the server, unanswered; they made ${fromLate} more ` +
        `request(s) while it was held, and the server got ${afterAll} in all (load was called ${calls.length} times). The later ` +
        `callers did not join the call in flight: it was forgotten before it settled (removed in the same turn, a microtask or ` +
        `a timer after it was stored), or they waited for it and then asked again. Keep it until the call resolves or fails, ` +
        `and give it to every caller meanwhile.${log()}`,
    ).toEqual({ whileHeld: 0, inAll: 1 });
    expect(bodies, 'Every caller must get the body the server sent for /user/ada.').toEqual(Array(20).fill(body('ada')));
  });

  test('a caller that comes 1.5 s into a call still in flight joins it', async () => {
    server.route('/user/ada', { held: true });
    const { calls, load } = countedLoad();
    const get = wrapped(load);
    const started = performance.now();
    const first = get('ada');
    let firstSettled = false;
    first.then(
      () => (firstSettled = true),
      () => (firstSettled = true),
    );
    const arrived = await server.until(() => requestsFor('ada') > 0, 2_000);
    expect(
      arrived,
      `get("ada") was called, and 2 s later no request for /user/ada had reached the server (load was called ${calls.length} times).${log()}`,
    ).toBe(true);
    // The late callers come 1.5 s after the first one, while the server still holds its answer.
    await sleep(Math.max(0, 1_500 - (performance.now() - started)));
    const cameAfterMs = Math.round(performance.now() - started);
    const settledBefore = firstSettled;
    const late = Array.from({ length: 5 }, () => get('ada'));
    // The answer is still held: a request the late callers started has time to reach the server.
    await sleep(200);
    const whileHeld = requestsFor('ada');
    server.release('/user/ada');
    const bodies = await allOf([first, ...late], 'the first caller and 5 late ones for "ada"');
    const inAll = requestsFor('ada');
    expect(
      { whileHeld, inAll },
      `One caller asked for "ada", and the server held the answer; ${cameAfterMs} ms later 5 more callers asked for "ada". The ` +
        `server saw ${whileHeld} request(s) for ada while its answer was held, and ${inAll} in all (load was called ` +
        `${calls.length} times). ` +
        (settledBefore
          ? "The first caller's get() had already settled by then, although the server had not answered: get(key) must " +
            'settle as load(key) does, when its answer comes. '
          : whileHeld > 1
            ? `The late callers started a call of their own while the first was still held: the call in flight was no longer ` +
              `shared ${cameAfterMs} ms after it started, though it had not settled. A call stays shared for as long as it is ` +
              'in flight, however long that is: the slow pages are where a herd hurts most. '
            : 'The late callers waited for the call in flight, and then called load again instead of taking its value. ') +
        log(),
    ).toEqual({ whileHeld: 1, inAll: 1 });
    expect(bodies, 'Every caller, the first and the 5 that came 1.5 s later, must get the body the server sent for /user/ada.').toEqual(
      Array(6).fill(body('ada')),
    );
  });

  test('callers for different keys get a request per key, all in flight at the same time', async () => {
    const keys = ['ada', 'grace', 'edsger'];
    for (const key of keys) server.route(`/user/${key}`, { held: true });
    const { calls, load } = countedLoad();
    const get = wrapped(load);
    const gets = keys.flatMap((key) => Array.from({ length: 5 }, () => get(key)));
    const allThere = await server.until(() => server.inFlight >= keys.length, 2_000);
    const inFlight = server.maxInFlight;
    const perKey = keys.map((key) => `${key}: ${requestsFor(key)}`).join(', ');
    server.release();
    const bodies = await within(5_000, Promise.allSettled(gets), 'not every get() settled within 5 s after the server answered');
    expect(
      keys.map(requestsFor),
      `3 keys with 5 callers each; the server got these requests per key: ${perKey} (load was called with ` +
        `${calls.join(', ') || 'nothing'}). Each key needs exactly one call of its own: a key's callers share only that key's call.${log()}`,
    ).toEqual([1, 1, 1]);
    expect(
      allThere,
      `The 3 requests, one per key, were never in flight at the same time: at most ${inFlight} while the server held every answer, ` +
        `for 2 s. A key's call started only after another key's had ended (a queue or a lock shared by all keys, or a call ` +
        `started only when no other is in flight). Keys are independent: each key's call starts at once.${log()}`,
    ).toBe(true);
    expect(
      bodies.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : `rejected: ${(outcome.reason as Error)?.message}`)),
      'Each caller must get the body for its own key (5 for ada, then 5 for grace, then 5 for edsger): a caller got the answer of another key.',
    ).toEqual(keys.flatMap((key) => Array(5).fill(body(key))));
  });

  test('8 different keys called at once have their 8 calls in flight at the same time', async () => {
    const keys = ['ada', 'grace', 'edsger', 'barbara', 'donald', 'alan', 'margaret', 'tony'];
    for (const key of keys) server.route(`/user/${key}`, { held: true });
    const { calls, load } = countedLoad();
    const get = wrapped(load);
    const gets = keys.map((key) => get(key));
    const allThere = await server.until(() => server.inFlight >= keys.length, 5_000);
    const inFlight = server.maxInFlight;
    const calledWhileHeld = [...calls];
    server.release();
    const bodies = await allOf(gets, '8 callers, one for each of 8 keys');
    const notCalled = keys.filter((key) => !calledWhileHeld.includes(key));
    expect(
      allThere,
      `8 callers asked at once for 8 different keys, and while the server held every answer, for 5 s, at most ${inFlight} of ` +
        `their requests were in flight together. ` +
        (notCalled.length > 0
          ? `By then load had been called for ${calledWhileHeld.length} of the 8 keys only: the calls for ` +
            `${notCalled.join(', ')} had not started while the others were in flight (held back by a limit on how many calls ` +
            'of load may run at once, whatever their keys, or by a queue). '
          : `load had been called for all 8 keys, yet only ${inFlight} requests were ever in flight at once. `) +
        `Keys are independent: however many keys are asked for, each one's call starts at once.${log()}`,
    ).toBe(true);
    expect(
      keys.map(requestsFor),
      `8 callers, one per key: the server got these requests per key: ${keys.map((key) => `${key}: ${requestsFor(key)}`).join(', ')}. ` +
        `Each key gets one call of load, its own.${log()}`,
    ).toEqual(Array(8).fill(1));
    expect(bodies, 'Each of the 8 callers must get the body the server sent for its own key.').toEqual(keys.map(body));
  });

  test("a key's call in flight stays shared after another key's call has resolved", async () => {
    for (const key of ['ada', 'grace']) server.route(`/user/${key}`, { held: true });
    const { calls, load } = countedLoad();
    const get = wrapped(load);
    const ada = get('ada');
    const early = Array.from({ length: 5 }, () => get('grace'));
    const bothThere = await server.until(() => requestsFor('ada') > 0 && requestsFor('grace') > 0, 2_000);
    expect(
      bothThere,
      `1 caller asked for "ada" and 5 for "grace", and within 2 s the server saw ${requestsFor('ada')} request(s) for ada and ` +
        `${requestsFor('grace')} for grace: each key's call must start at once, beside the other's.${log()}`,
    ).toBe(true);
    // Every call the first callers make has been made by now: give their requests time to reach the server.
    await sleep(50);
    const beforeAda = requestsFor('grace');
    server.release('/user/ada');
    const adaBodies = await allOf([ada], 'get("ada")');
    // One turn of the event loop for whatever ada's call does once it has settled.
    await nextTurn();
    const late = Array.from({ length: 5 }, () => get('grace'));
    // Grace's answer is still held: a request the late callers started has time to reach the server.
    await sleep(200);
    const whileHeld = requestsFor('grace');
    server.release('/user/grace');
    const bodies = await allOf([...early, ...late], '10 callers for "grace"');
    const inAll = requestsFor('grace');
    expect(
      { whileHeld, inAll },
      `The server held the answers for "ada" and "grace". Once ada's call had resolved, 5 more callers asked for "grace", whose ` +
        `call was still in flight; the server then saw ${whileHeld} request(s) for grace while its answer was held, and ${inAll} ` +
        `in all (load was called with ${calls.join(', ')}). ` +
        (beforeAda > 1
          ? `Even the first 5 callers for grace made ${beforeAda} requests: they did not share one call. `
          : `Grace's call in flight was forgotten by the time ada's call had resolved, so the later callers started a call of ` +
            `their own. Keys are independent: when a key's call settles, forget that key's call only. `) +
        `While a call for a key is in flight, every caller for that key must get that same call.${log()}`,
    ).toEqual({ whileHeld: 1, inAll: 1 });
    expect(adaBodies, 'The caller for "ada" must get the body the server sent for /user/ada.').toEqual([body('ada')]);
    expect(bodies, 'Every caller for "grace" must get the body the server sent for /user/grace.').toEqual(Array(10).fill(body('grace')));
  });

  test('takes any string as a key, "constructor" and "__proto__" too', async () => {
    const { calls, load } = countedLoad();
    const get = wrapped(load);
    const keys = ['constructor', '__proto__', 'toString'];
    const bodies = await allOf(
      keys.map((key) => get(key)),
      'get() for "constructor", "__proto__" and "toString"',
    );
    expect(
      bodies,
      `get() for ${keys.map((key) => `"${key}"`).join(', ')} resolved with ${JSON.stringify(bodies.map((got) => (typeof got === 'string' ? got : typeof got)))}, ` +
        `and load was called with ${JSON.stringify(calls)}. A plain object used as the table of calls in flight already has these keys ` +
        "(its prototype's): a lookup finds a function or an object there, not a call. Use a Map (or an object made with Object.create(null)).",
    ).toEqual(keys.map(body));
  });

  test('asks again once the shared call has resolved: a single flight, not a cache', async () => {
    const { calls, load } = countedLoad();
    const get = wrapped(load);
    await allOf([get('ada'), get('ada')], 'the first 2 callers for "ada"');
    const first = requestsFor('ada');
    expect(first, `2 callers for "ada" at once made ${first} requests: they did not share one call.${log()}`).toBe(1);
    // One turn of the event loop for whatever the call does once it has settled.
    await nextTurn();
    server.route('/user/ada', { body: 'ada, changed since' });
    const again = await allOf([get('ada')], 'a caller after the first call resolved');
    expect(
      { requests: requestsFor('ada'), value: again[0] },
      `After the first call for "ada" had resolved, the server changed the page and a new get("ada") resolved with ` +
        `${JSON.stringify(again[0])}; the server saw ${requestsFor('ada') - first} new request(s) (load was called ${calls.length} ` +
        `time(s)). ` +
        (requestsFor('ada') === first
          ? 'The settled call was kept and served again, as a cache would. '
          : 'A new request went out, but the caller got the old value. ') +
        `Share a call only while it is in flight; once it has settled, the next caller asks again and gets the new answer.${log()}`,
    ).toEqual({ requests: 2, value: 'ada, changed since' });
  });

  test("a get() made in the first caller's own .then, as soon as the call resolved, reaches the server again", async () => {
    const { calls, load } = countedLoad();
    const get = wrapped(load);
    const again = await allOf(
      [
        get('ada').then(() => {
          // The page changes the moment the first caller has its value, and that caller asks again at once.
          server.route('/user/ada', { body: 'ada, changed since' });
          return get('ada');
        }),
      ],
      'get("ada"), then get("ada") again from its own .then',
    );
    const requests = requestsFor('ada');
    expect(
      { requests, value: again[0] },
      `get("ada") resolved, and in its own .then the page changed and get("ada") was called again: that second get resolved ` +
        `with ${JSON.stringify(again[0])}, and the server saw ${requests} request(s) in all (load was called ${calls.length} ` +
        `time(s)). ` +
        (requests === 1
          ? 'The resolved call was still stored when its first caller heard it had resolved, and was served again (it is ' +
            'forgotten later, a turn or a timer after it settled, or never). Forget the call as it settles, before any caller ' +
            'hears of it: from then on, the next get() asks again. '
          : requests === 2
            ? 'A new request went out, but the caller got the old value. '
            : '') +
        log(),
    ).toEqual({ requests: 2, value: 'ada, changed since' });
  });
});

describe('singleFlight: when the call fails', () => {
  test('every caller waiting for a failed call rejects with the error load threw, and none goes unhandled', async () => {
    server.route('/user/ada', { held: true, status: 500 });
    const thrown: unknown[] = [];
    const { load } = countedLoad();
    const get = wrapped(async (key) => {
      try {
        return await load(key);
      } catch (error) {
        thrown.push(error);
        throw error;
      }
    });
    const outcomes = Array.from({ length: 10 }, () => get('ada')).map((promise) =>
      promise.then(
        (value) => ({ settled: 'resolved' as const, value }),
        (reason: unknown) => ({ settled: 'rejected' as const, reason }),
      ),
    );
    await server.until(() => requestsFor('ada') > 0, 2_000);
    server.release('/user/ada');
    const settled = await Promise.race([Promise.all(outcomes), sleep(3_000).then(() => undefined)]);
    if (settled === undefined) {
      const done = await Promise.all(outcomes.map((outcome) => Promise.race([outcome, sleep(0).then(() => undefined)])));
      const waiting = done.filter((outcome) => outcome === undefined).length;
      expect.fail(
        `load("ada") rejected (the server answered 500), and 3 s later ${waiting} of the 10 callers had not settled. ` +
          `Every caller waiting for the call must hear of its failure: reject each of them with load's error.${log()}`,
      );
    }
    const notTheError = settled!.filter((outcome) => outcome.settled !== 'rejected' || outcome.reason !== thrown[0]);
    const first = notTheError[0];
    expect(
      notTheError.length,
      `load("ada") rejected with ${String(thrown[0])}, and ${notTheError.length} of the 10 callers did not reject with that error` +
        (first?.settled === 'resolved'
          ? ` (one resolved with ${JSON.stringify(first.value)})`
          : first
            ? ` (one rejected with ${String(first.reason)}, another error)`
            : '') +
        `. Pass load's own error on to every caller, unchanged.${log()}`,
    ).toBe(0);
    // An unhandled rejection is reported once the microtasks have run: let it come, so that it
    // fails this test (kata/vitest/escaped-errors.ts) rather than another one.
    await sleep(20);
  });

  test('every caller rejects with the very value load rejected with, a falsy one too: undefined, null, 0, "", false', async () => {
    // Each falsy reason gets a singleFlight of its own and 3 callers sharing its call, all at once.
    const cases = [undefined, null, 0, '', false].map((reason) => {
      const get = singleFlight(async (_key: string): Promise<string> => {
        await sleep(20);
        return Promise.reject(reason);
      });
      return { reason, gets: [get('ada'), get('ada'), get('ada')] };
    });
    const outcomes = await Promise.all(cases.map(({ gets }) => Promise.all(gets.map((promise) => settlementWithin(promise, 5_000)))));
    const wrong = cases.flatMap(({ reason }, index) => {
      const seen = outcomes[index]!.filter((outcome) => outcome.state !== 'rejected' || !Object.is(outcome.reason, reason));
      if (seen.length === 0) return [];
      const shown = seen.map((outcome) =>
        outcome.state === 'resolved'
          ? `resolved with ${shownReason(outcome.value)}`
          : outcome.state === 'rejected'
            ? `rejected with ${shownReason(outcome.reason)}`
            : 'had not settled 5 s later',
      );
      return [`load rejected with ${shownReason(reason)}, and ${seen.length} of its 3 callers ${[...new Set(shown)].join(' or ')}`];
    });
    const resolved = outcomes.some((settled) => settled.some((outcome) => outcome.state === 'resolved'));
    expect(
      wrong,
      `Callers sharing a call whose load rejected with a falsy value did not all reject with it: ${wrong.join('; ')}. ` +
        (resolved
          ? 'A rejection is a failure whatever its reason: tell the callers how the call ended by which way its promise ' +
            'settled (its rejection handler ran), never by whether the reason is truthy. '
          : '') +
        'Reject every caller with the very value load rejected with, whatever it is.',
    ).toEqual([]);
  });

  test('asks again after a failure: the failure is not kept', async () => {
    server.route('/user/ada', { status: 503 });
    const { calls, load } = countedLoad();
    const get = wrapped(load);
    const failed = await within(5_000, Promise.allSettled([get('ada'), get('ada')]), 'get("ada") did not settle within 5 s after the server answered 503');
    if (failed[0]!.status === 'rejected' && isNotImplemented(failed[0]!.reason)) throw failed[0]!.reason;
    expect(
      failed.map((outcome) => outcome.status),
      'While the server answers 503, get("ada") must reject as load does.',
    ).toEqual(['rejected', 'rejected']);
    const fromFailed = requestsFor('ada');
    expect(fromFailed, `2 callers for "ada" at once made ${fromFailed} requests: they did not share one call.${log()}`).toBe(1);
    await nextTurn();
    server.route('/user/ada', {});
    const retried = await within(5_000, Promise.allSettled([get('ada')]), 'get("ada") did not settle within 5 s after the failure');
    const outcome = retried[0]!;
    expect(
      requestsFor('ada'),
      `After a call for "ada" failed, a new get("ada") ${outcome.status === 'rejected' ? `rejected with "${(outcome.reason as Error)?.message}"` : `resolved with ${JSON.stringify(outcome.value)}`} ` +
        `and the server saw no new request (load was called ${calls.length} time(s)): the failed call was kept and served ` +
        `again. A failure must not be kept: forget the call when it fails too, so that the next caller asks again.${log()}`,
    ).toBe(2);
    expect(outcome, 'Once the server answers 200 again, the next get("ada") must resolve with its body.').toEqual({ status: 'fulfilled', value: body('ada') });
  });

  test("a get() made in the first caller's own .catch, as soon as the call failed, reaches the server again", async () => {
    server.route('/user/ada', { status: 503 });
    const { calls, load } = countedLoad();
    const get = wrapped(load);
    let heard: unknown;
    const retried = await within(
      5_000,
      Promise.allSettled([
        get('ada').catch((error: unknown) => {
          heard = error;
          // The server recovers the moment the first caller hears of the failure, and that caller asks again at once.
          server.route('/user/ada', {});
          return get('ada');
        }),
      ]),
      'get("ada"), then get("ada") again from its own .catch, did not settle within 5 s after the server answered',
    );
    const outcome = retried[0]!;
    if (outcome.status === 'rejected' && isNotImplemented(outcome.reason)) throw outcome.reason;
    const requests = requestsFor('ada');
    expect(
      heard !== undefined,
      `The server answered 503 for "ada", and get("ada") resolved with ${outcome.status === 'fulfilled' ? JSON.stringify(outcome.value) : 'nothing'}: ` +
        `it must reject as load does.${log()}`,
    ).toBe(true);
    expect(
      { requests, outcome },
      `get("ada") rejected (the server answered 503), and in its own .catch the server recovered and get("ada") was called ` +
        `again: that second get ${outcome.status === 'rejected' ? `rejected with ${shownReason(outcome.reason)}` : `resolved with ${JSON.stringify(outcome.value)}`}, ` +
        `and the server saw ${requests} request(s) in all (load was called ${calls.length} time(s)). ` +
        (requests === 1
          ? 'The failed call was still stored when its first caller heard it had failed, and its failure was served again (it ' +
            'is forgotten later, a turn or a timer after it failed, or never). Forget a failed call as it settles, just as a ' +
            'resolved one, before any caller hears of it: a caller that retries at once must reach load again. '
          : requests === 2 && outcome.status === 'rejected'
            ? 'A new request went out and was answered 200, but the caller still got a failure. '
            : '') +
        log(),
    ).toEqual({ requests: 2, outcome: { status: 'fulfilled', value: body('ada') } });
  });
});
