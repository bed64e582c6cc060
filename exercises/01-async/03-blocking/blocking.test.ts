import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { failureOf, measured, shownReason, Timeline, valueWithin, within } from '#kata/testing/index.ts';
import { type MainThreadWatch, watchMainThread } from '#kata/testing/main-thread.ts';
import { watchSleepingCalls } from '#kata/inside/sleeping-calls.ts';
import { countMatchingLines, countPrimes, deriveKey } from './blocking.ts';
import { countMatchingLinesSync, countPrimesSync } from './original.ts';

// The most CPU time the event-loop thread may spend in one stretch without letting the loop turn.
// CPU time, not wall time: on a busy machine an idle loop can wait 80 ms for the CPU, which is not
// the code's fault. A loop that keeps turning runs a few ms at a time; each original blocks for
// hundreds of ms.
const MAX_BUSY_MS = 50;
// Fixed amounts of work that take the originals 250-400 ms here (2 shared cores, unloaded).
const PRIMES_BELOW = 2_500_000;
const PRIMES_BELOW_COUNT = 183_072;
// More than twice as much work: slices of a fixed size stay as short as before; a fixed number of
// slices (each a tenth of the work, say) grows with the limit and blocks for longer.
const MORE_PRIMES_BELOW = 6_000_000;
const MORE_PRIMES_BELOW_COUNT = 412_849;
const PASSWORD = 'correct horse battery staple';
const SALT = 'concurrency-kata';
const KEY_HEX = '3c5270337b3ef883fbecba30fc0dd41b72e2f5775687577dec618e075c83b366';
const LOG_BYTES = 64 * 1024 * 1024;
// How long one watched call may take. A right answer took up to 8.5 s on a machine loaded several
// times over (verify's lanes and a CPU hog): the work is fixed, the CPU it gets is not.
const OBSERVE_MS = 30_000;
const observed = { timeout: OBSERVE_MS + 10_000 };

type Observed<T> = MainThreadWatch<T> & { slept: string[] };

/**
 * Calls the learner's function while watching the event-loop thread (its CPU time between turns,
 * and the calls that put it to sleep), and records the call on `timeline`. The call must resolve:
 * a rejection fails the test with `whenRejected(reason)`, unless it is the stub's or a deadline's.
 */
async function observe<T>(timeline: Timeline, label: string, call: () => Promise<T>, whenRejected: (reason: unknown) => string): Promise<Observed<T>> {
  const end = timeline.begin(label);
  const sleeping = watchSleepingCalls();
  try {
    const seen = await watchMainThread(() => valueWithin(OBSERVE_MS, call(), `${label} never settled`, whenRejected));
    return { ...seen, slept: [...sleeping.calls] };
  } finally {
    sleeping.stop();
    end();
  }
}

/**
 * The loop kept turning: the thread never slept in a blocking call (which uses no CPU, so the
 * busy-stretch check cannot see it), and no stretch of work held it for more than MAX_BUSY_MS.
 */
function expectLoopKeptTurning(label: string, seen: Observed<unknown>, advice: string, more = ''): void {
  const slept = [...new Set(seen.slept)];
  expect(
    seen.slept,
    `${label} called ${slept.join(' and ')} on the event-loop thread (${seen.slept.length} call(s)): the thread slept there until ` +
      'the other side was done, and while it slept the loop could not turn (the loop turned ' +
      `${seen.turns} times in ${Math.round(seen.elapsedMs)} ms). Wait for a worker or a program with an event (a 'message', ` +
      "'exit' or 'close'), or a promise, never with a call that blocks the thread.",
  ).toEqual([]);
  const busy = measured('blocking: longest busy stretch of the loop thread (CPU ms)', seen.longestBusyMs, MAX_BUSY_MS);
  expect(busy, whyItBlocked(label, seen, advice) + more).toBeLessThanOrEqual(MAX_BUSY_MS);
}

/** Why the loop stood still, told from where the longest stretch of work happened. */
function whyItBlocked(label: string, seen: MainThreadWatch<unknown>, advice: string): string {
  const busy = Math.round(seen.longestBusyMs);
  const facts =
    `${label} kept the event-loop thread busy for ${busy} ms in one stretch${seen.clock === 'wall' ? '' : ' of CPU time'} ` +
    `(at most ${MAX_BUSY_MS} ms is fine); the loop turned ${seen.turns} times in ${Math.round(seen.elapsedMs)} ms, ` +
    `where a free loop turns every few ms.`;
  let why: string;
  if (seen.callBusyMs >= 0.8 * seen.longestBusyMs) {
    why =
      `The call itself took ${Math.round(seen.callBusyMs)} ms before it handed back its promise. Marking a function ` +
      '`async` does not move its work anywhere, and neither does `new Promise(...)`: both run their body ' +
      'synchronously on the one event-loop thread, so the sync work inside blocks exactly as before.';
  } else if (seen.beforeFirstTurnBusyMs >= 0.8 * seen.longestBusyMs) {
    why =
      `The call returned at once, but the work ran before the loop's next turn: in microtasks ` +
      '(Promise.resolve().then(...), process.nextTick, or an `await` of something already resolved between ' +
      'chunks). Microtasks all run before the event loop takes its next turn, so the work still runs on the one ' +
      'event-loop thread, in one piece, just a moment later.';
  } else if (seen.longestStretch.callbacks >= 10 && seen.longestStretch.longestCallbackMs <= seen.longestStretch.wallMs / 4) {
    why =
      `The call returned at once and the loop turned, and every piece of work was short (the longest took ` +
      `${Math.round(seen.longestStretch.longestCallbackMs)} ms of the stretch's ${Math.round(seen.longestStretch.wallMs)} ms), but ${seen.longestStretch.callbacks} of them ran one after another ` +
      'without the loop turning in between: they were all queued at once (a setImmediate or setTimeout(0) per slice, ' +
      'scheduled in one loop), or chained as microtasks. The loop works through what is queued before it turns again: ' +
      'queue each slice only when the one before it has ended (await setImmediate() between slices).';
  } else {
    why =
      'The call returned at once and the loop turned, but then one piece of work ran on the event-loop thread for ' +
      `${Math.round(seen.longestStretch.longestCallbackMs)} ms without a break. One setTimeout(fn, 0) (or setImmediate) around ` +
      'the whole work only changes when it blocks: it still runs on the one event-loop thread, just later. If you split the ' +
      'work, your chunks are too big: each should take a few ms.';
  }
  return `${facts}\n${why}\n${advice}`;
}

/** Explains a rejection of `call`, where the test expected `expected` (a count of the original's). */
const rejectedWhere = (call: string, expected: string) => (reason: unknown) =>
  `${call} rejected with ${shownReason(reason)}, where the test expected ${expected}.`;

/** The same, for countMatchingLines on files the test has just written: they are there to read. */
const rejectedReading = (call: string, expected: string) => (reason: unknown) =>
  `${call} rejected with ${shownReason(reason)}, where the test expected ${expected}. ` +
  'The test wrote every file named here just before the call: it is there to read.';

const cpuAdvice =
  'Split the loop into slices of a few ms and wait for a real turn of the loop between them ' +
  "(await setImmediate() from 'node:timers/promises'), or run the loop in a worker thread.";
const cryptoAdvice =
  'Node has an asynchronous form of this function: it runs the hashing on libuv’s thread pool and only calls ' +
  'back on the event loop with the result. Or move the work to a worker thread.';
const fileAdvice =
  'Read the file as a stream of small chunks (fs.createReadStream) and count as they arrive: reading it ' +
  'asynchronously helps only if the scanning happens in small pieces too. Reading the whole file with ' +
  'fs.promises.readFile and then splitting 64 MB at once still does all the scanning in one piece.';

describe('countPrimes: a CPU loop', () => {
  test(`counts the primes below ${PRIMES_BELOW.toLocaleString('en')} while the event loop keeps turning`, observed, async () => {
    const timeline = new Timeline();
    const seen = await observe(
      timeline,
      `countPrimes(${PRIMES_BELOW})`,
      () => countPrimes(PRIMES_BELOW),
      rejectedWhere(`countPrimes(${PRIMES_BELOW})`, `${PRIMES_BELOW_COUNT}, the count countPrimesSync gives for that limit`),
    );
    expectLoopKeptTurning(`countPrimes(${PRIMES_BELOW})`, seen, cpuAdvice);
    expect(seen.result, `countPrimes(${PRIMES_BELOW}) must give the same count as countPrimesSync.`).toBe(PRIMES_BELOW_COUNT);
  });

  test(`keeps the loop turning for a limit more than twice as large (${MORE_PRIMES_BELOW.toLocaleString('en')})`, observed, async () => {
    const timeline = new Timeline();
    const seen = await observe(
      timeline,
      `countPrimes(${MORE_PRIMES_BELOW})`,
      () => countPrimes(MORE_PRIMES_BELOW),
      rejectedWhere(`countPrimes(${MORE_PRIMES_BELOW})`, `${MORE_PRIMES_BELOW_COUNT}, the count countPrimesSync gives for that limit`),
    );
    expectLoopKeptTurning(
      `countPrimes(${MORE_PRIMES_BELOW})`,
      seen,
      cpuAdvice,
      `\nThe 50 ms hold for any limit, not only for ${PRIMES_BELOW.toLocaleString('en')}: if you split the work into a fixed ` +
        'number of slices, each slice grows with `below`; a slice of a fixed amount of work (or of a few ms) does not.',
    );
    expect(seen.result, `countPrimes(${MORE_PRIMES_BELOW}) must give the same count as countPrimesSync.`).toBe(MORE_PRIMES_BELOW_COUNT);
  });

  test('gives the same count as the original for small and awkward limits', async () => {
    const limits = [0, 1, 2, 3, 4, 10, 100, 19_999, 20_000, 20_001, 65_537, 100_003];
    const counts = await valueWithin(
      15_000,
      Promise.all(limits.map((below) => countPrimes(below))),
      'countPrimes never settled for small limits',
      rejectedWhere(
        `countPrimes(below), called for each of the limits ${limits.join(', ')},`,
        'the count countPrimesSync gives for each of them (below 0, 1 and 2 there are no primes: a count of 0, not a failure)',
      ),
    );
    const expected = limits.map((below) => countPrimesSync(below));
    expect(
      Object.fromEntries(limits.map((below, index) => [below, counts[index]])),
      'Counts by limit, compared with countPrimesSync: check where your slices start and end (the last one usually ' +
        'ends early, at `below`, which is not counted).',
    ).toEqual(Object.fromEntries(limits.map((below, index) => [below, expected[index]])));
  });
});

describe('deriveKey: slow crypto', () => {
  test('derives the same key as the original while the event loop keeps turning', observed, async () => {
    const timeline = new Timeline();
    const seen = await observe(
      timeline,
      'deriveKey()',
      () => deriveKey(PASSWORD, SALT),
      rejectedWhere(`deriveKey(${JSON.stringify(PASSWORD)}, ${JSON.stringify(SALT)})`, 'the key deriveKeySync derives from that password and salt'),
    );
    expectLoopKeptTurning('deriveKey()', seen, cryptoAdvice);
    expect(Buffer.isBuffer(seen.result), 'deriveKey must resolve with a Buffer, like deriveKeySync.').toBe(true);
    expect(seen.result.toString('hex'), 'deriveKey must derive the same key as deriveKeySync (same iterations, length and digest).').toBe(KEY_HEX);
  });

  // Two pairs whose password and salt, put end to end, read the same ("abc"): their keys differ.
  const twoPairs = [
    { password: 'a', salt: 'bc', hex: '89c4b0229b132f1d591951060f015fb92798ed97a1f6e9a324f26773589f9381' },
    { password: 'ab', salt: 'c', hex: '04a43408f69c9742e17581e46775761aa432b7f2b4bf00389d11cc0ce707c01d' },
  ];

  test('derives each password and salt their own key: ("a", "bc"), then ("ab", "c")', { timeout: 2 * OBSERVE_MS + 10_000 }, async () => {
    const keys: string[] = [];
    for (const { password, salt } of twoPairs) {
      const call = `deriveKey(${JSON.stringify(password)}, ${JSON.stringify(salt)})`;
      const key = await valueWithin(
        OBSERVE_MS,
        deriveKey(password, salt),
        `${call} never settled`,
        rejectedWhere(call, 'the key deriveKeySync derives from that password and salt'),
      );
      keys.push(Buffer.isBuffer(key) ? key.toString('hex') : shownReason(key));
    }
    const [first, second] = keys;
    expect(first, 'deriveKey("a", "bc") must derive the same key as deriveKeySync("a", "bc").').toBe(twoPairs[0]!.hex);
    expect(
      second,
      second === first
        ? 'deriveKey("ab", "c") resolved with the very key deriveKey("a", "bc") had resolved with just before: a key of another call was ' +
            'given again. Both pairs read "abc" when the password and the salt are put end to end, so whatever remembers keys by the two ' +
            'joined together mixes these pairs up. A key belongs to its password and its salt, each kept apart.'
        : 'deriveKey("ab", "c") must derive the same key as deriveKeySync("ab", "c").',
    ).toBe(twoPairs[1]!.hex);
  });
});

describe('countMatchingLines: a big file', () => {
  let folder: string;
  let log: string;
  let errorLines = 0;

  beforeAll(async () => {
    // A 64 MB log whose lines vary in length, so that chunk edges cut through lines (and through
    // the word itself) at many different places.
    folder = await mkdtemp(path.join(tmpdir(), 'kata-blocking-'));
    log = path.join(folder, 'app.log');
    // Written in 1 MB blocks, so no 64 MB string is left for the garbage collector to sweep up
    // in the middle of a measurement.
    const file = await open(log, 'w');
    try {
      let block = '';
      let bytes = 0;
      for (let i = 0; bytes < LOG_BYTES; i++) {
        // ERROR on some lines, a lower-case "error" on others: the search ignores case.
        const level = i % 13 === 5 ? 'ERROR' : 'INFO';
        const note = i % 29 === 0 ? ' (retried after an error)' : '';
        if (level === 'ERROR' || note) errorLines += 1;
        const line = `2026-05-01T12:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}Z ${level} worker-${i % 7} handled /page/${i} in ${(i * 7919) % 997} ms${note}${'.'.repeat(i % 17)}\n`;
        block += line;
        bytes += line.length;
        if (block.length >= 1 << 20) {
          await file.write(block);
          block = '';
        }
      }
      await file.write(block);
    } finally {
      await file.close();
    }
  });

  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  test('counts the lines of a 64 MB file that mention a word, while the event loop keeps turning', observed, async () => {
    const timeline = new Timeline();
    const seen = await observe(
      timeline,
      "countMatchingLines('app.log')",
      () => countMatchingLines(log, 'error'),
      rejectedReading("countMatchingLines('app.log', 'error') on the 64 MB log", `${errorLines}: that many of its lines mention "error" (in any case)`),
    );
    expectLoopKeptTurning("countMatchingLines('app.log', 'error')", seen, fileAdvice);
    expect(
      seen.result,
      `The file has ${errorLines} lines that mention "error" (in any case). A chunk of a stream usually ends in the middle of a line, ` +
        'sometimes in the middle of the word: keep the unfinished line and put it in front of the next chunk, and ' +
        'count the last line once the stream ends.',
    ).toBe(errorLines);
  });

  test('gives the same count as the original for small files', async () => {
    const cases: Record<string, string> = {
      'empty.log': '',
      'one-line.log': 'ERROR: disk full\n',
      'no-final-newline.log': 'INFO start\nError one\nINFO error two',
      'none.log': 'INFO a\nINFO b\n',
      'unicode.log': 'café ERROR ☕\nnaïve\nerror 🙂\n',
    };
    for (const [name, text] of Object.entries(cases)) await writeFile(path.join(folder, name), text);
    const names = Object.keys(cases);
    const counts = await valueWithin(
      10_000,
      Promise.all(names.map((name) => countMatchingLines(path.join(folder, name), 'error'))),
      'countMatchingLines never settled for small files',
      rejectedReading(
        `countMatchingLines(file, 'error'), called for each of the small files ${names.join(', ')},`,
        'the count countMatchingLinesSync gives for each of them (an empty file has no line that mentions it: a count of 0, not a failure)',
      ),
    );
    const expected = names.map((name) => countMatchingLinesSync(path.join(folder, name), 'error'));
    expect(
      Object.fromEntries(names.map((name, index) => [name, counts[index]])),
      'Counts by file, compared with countMatchingLinesSync: a last line without a newline after it still counts.',
    ).toEqual(Object.fromEntries(names.map((name, index) => [name, expected[index]])));
  });

  /** A read stream's chunks end at 64 KiB (its default size), and at 1 and 2 MiB for the larger powers of two. */
  const chunkEdges = [2 ** 16, 2 ** 20, 2 ** 21];

  /** A file with a line saying `word` across each chunk edge, its first `bytesBefore` bytes before the edge. */
  async function wordAcrossChunkEdges(name: string, word: string, bytesBefore: number): Promise<string> {
    let text = '';
    for (const edge of chunkEdges) text += `${'.'.repeat(edge - bytesBefore - Buffer.byteLength(text) - 1)}\n${word}\n`;
    const file = path.join(folder, name);
    await writeFile(file, text);
    return file;
  }

  test('finds the word where the edge of a chunk cuts it in two', async () => {
    const cut = await wordAcrossChunkEdges('cut.log', 'error', 2); // "er" before each edge, "ror" after it
    const count = await valueWithin(
      10_000,
      countMatchingLines(cut, 'error'),
      'countMatchingLines never settled',
      rejectedReading("countMatchingLines('cut.log', 'error')", `${chunkEdges.length}: that many lines say "error", each cut in two by the edge of a chunk`),
    );
    expect(
      count,
      `The file has ${chunkEdges.length} lines that say "error", each placed so that a chunk ends in the middle of ` +
        'the word (after "er"). A chunk of a stream ends wherever it ends, not at a line break: keep the ' +
        'unfinished line and put it in front of the next chunk, and count the last line once the stream ends.',
    ).toBe(countMatchingLinesSync(cut, 'error'));
  });

  test('matches the word in any case, whichever case the word itself is written in', async () => {
    const text = 'ERROR: disk full\nan Error here\nno problem\nerror: retry\nWarning: slow\nWARNING twice\n';
    const file = path.join(folder, 'cases.log');
    await writeFile(file, text);
    const words = ['error', 'Error', 'ERROR', 'warning', 'WARNING', 'Retry'];
    const counts = await valueWithin(
      10_000,
      Promise.all(words.map((word) => countMatchingLines(file, word))),
      'countMatchingLines never settled',
      rejectedReading(
        `countMatchingLines('cases.log', word), called for each of the words ${words.join(', ')},`,
        'the count countMatchingLinesSync gives for each of them',
      ),
    );
    expect(
      Object.fromEntries(words.map((word, index) => [word, counts[index]])),
      'Counts by word, compared with countMatchingLinesSync: a line mentions a word in any case, so "ERROR", "Error" ' +
        'and "error" find the same lines, and the case of the word you are given does not matter either (compare ' +
        'both in one case, as mentions() in original.ts does).',
    ).toEqual(Object.fromEntries(words.map((word) => [word, countMatchingLinesSync(file, word)])));
  });

  test('takes the word as plain text: dots, brackets, stars and plus signs match only themselves', async () => {
    const text = 'a.b here\naxb here\nC++ code\nC code\n[warn] low disk\nwarn only\nsum(x) done\nsum x\n2*3\n23\n';
    const file = path.join(folder, 'symbols.log');
    await writeFile(file, text);
    const words = ['a.b', 'C++', '[warn]', '(x)', '*'];
    const counts = await valueWithin(
      10_000,
      Promise.all(words.map((word) => countMatchingLines(file, word))),
      'countMatchingLines never settled',
      rejectedReading(
        `countMatchingLines('symbols.log', word), called for each of the words ${words.join(' ')},`,
        'the count countMatchingLinesSync gives for each of them: the word is plain text, not a pattern, so no word can be a bad one',
      ),
    );
    expect(
      Object.fromEntries(words.map((word, index) => [word, counts[index]])),
      'Counts by word, compared with countMatchingLinesSync: the word is plain text, not a pattern. "a.b" is found in "a.b here" ' +
        'and not in "axb here"; "[warn]" only where the brackets are. A word turned into a regular expression gives . [ ( * + ' +
        'a meaning of their own: compare text with text, as mentions() in original.ts does.',
    ).toEqual(Object.fromEntries(words.map((word) => [word, countMatchingLinesSync(file, word)])));
  });

  test('keeps a character whole where the edge of a chunk cuts it in two', async () => {
    // The "é" is 2 bytes in UTF-8: "caf" and its first byte end one chunk, its second starts the next.
    const cut = await wordAcrossChunkEdges('cut-char.log', 'café', 4);
    const count = await valueWithin(
      10_000,
      countMatchingLines(cut, 'café'),
      'countMatchingLines never settled',
      rejectedReading(
        "countMatchingLines('cut-char.log', 'café')",
        `${chunkEdges.length}: that many lines say "café", each with its "é" cut in two by the edge of a chunk`,
      ),
    );
    expect(
      count,
      `The file has ${chunkEdges.length} lines that say "café", each placed so that a chunk ends between the two bytes ` +
        'of the "é". Decoded chunk by chunk (chunk.toString(), or a string + a Buffer), each half becomes a ' +
        '"\uFFFD" and the word is lost. Let the stream decode (createReadStream(path, { encoding: \'utf8\' }), or ' +
        'a StringDecoder / TextDecoder with { stream: true }): it keeps a cut character until its second half arrives.',
    ).toBe(countMatchingLinesSync(cut, 'café'));
  });

  test('rejects when the file does not exist', async () => {
    const missing = path.join(folder, 'missing.log');
    const neverSettled =
      "countMatchingLines never settled for a missing file: a stream reports a failure as an 'error' event, and " +
      "nothing rejected your promise when it came (for await over the stream does; so does stream.on('error', reject))";
    const error = await failureOf(
      () => within(5_000, countMatchingLines(missing, 'error'), neverSettled),
      'countMatchingLines resolved for a file that does not exist: it must reject with the ENOENT error.',
    );
    if (error instanceof Error && error.message.startsWith(neverSettled)) throw error;
    expect((error as NodeJS.ErrnoException).code, `Expected the ENOENT error of the missing file, got: ${String(error)}`).toBe('ENOENT');
  });
});
