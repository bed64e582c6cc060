import { existsSync, fstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { isChildAlive, isNotImplemented, settlementWithin, shownReason, spawnCounts, spawnLog, Timeline, valueWithin, within } from '#kata/testing/index.ts';
import { failureWithin } from '#kata/testing/deadline.ts';
import { fileAppears, pidsStillAlive, reapChildren } from '#kata/testing/processes.ts';
import { ChildFailed, runChild, sumOfSquaresInChild, type RunOptions } from './child.ts';
import { moduleState } from './module-state.harness.ts';
import type { TestRequest } from './test-child.harness.ts';

/** The tests' own child: each request tells it to answer, to fail in some way, or to refuse to die. */
const testChild = new URL('./test-child.harness.ts', import.meta.url);
const ask = <Reply>(request: TestRequest, options?: RunOptions) => runChild<Reply>(testChild, request, options);

interface Echo {
  pid: number;
  payload: unknown;
}

/** The reply of 'print-then-reply': its input, and how many bytes it printed on stdout first. */
interface Printed {
  payload: unknown;
  printed: number;
}

/** The child processes started since `before` (a spawnCounts().children value). */
const startedSince = (before: number) => spawnLog().children.slice(before);

/** How the child processes started since `before` were seen to end, by now. */
/**
 * Waits up to `ms` for the test child to write `readyFile`: true once it has, false if it never did,
 * or how runChild settled, should it settle first (a stub's error is thrown as it is).
 */
function readyBeforeSettled(readyFile: string, ms: number, running: Promise<unknown>): Promise<boolean | string> {
  return Promise.race([
    fileAppears(readyFile, ms),
    running.then(
      (value) => `resolved with ${shownReason(value)}`,
      (error: unknown) => {
        if (isNotImplemented(error)) throw error;
        return `rejected with ${shownReason(error)}`;
      },
    ),
  ]);
}

function childrenSeen(before: number): string {
  const started = startedSince(before);
  if (started.length === 0) return 'no child process was started';
  const ended = (child: (typeof started)[number]) =>
    child.exitCode !== null ? `exited with code ${child.exitCode}` : child.signalCode !== null ? `was killed by ${child.signalCode}` : 'was still running';
  return `the child process(es) started: ${started.map((child) => `pid ${child.pid} ${ended(child)}`).join('; ')}`;
}

/**
 * What `running` (a call of runChild with `request` on the test child, started once `before`
 * children had been) resolves with. A rejection fails the test with what the test child does for
 * that request (`does`) and how the children the call started were seen to end.
 */
function replyWithin<T>(ms: number, running: Promise<T>, hung: string, call: { request: TestRequest; before: number; does: string }): Promise<T> {
  return valueWithin(
    ms,
    running,
    hung,
    (reason) =>
      `runChild(test-child.harness.ts, ${JSON.stringify(call.request)}) rejected with ${shownReason(reason)}, where the test expected ` +
      `the child's reply: ${call.does}, so runChild should resolve with its reply. Seen: ${childrenSeen(call.before)}.`,
  );
}

// No orphans: whatever a test started must be gone at its end.
afterEach(async () => {
  const left = await reapChildren(2_000);
  expect(
    left.map((child) => child.pid),
    `${left.length} child process(es) still ran 2 s after the test ended (killed now). A child that runChild ` +
      'started must be gone once its promise has settled (or soon after an abort).',
  ).toEqual([]);
});

// What the test child writes to stderr or throws when a test asks it to fail says so: a runChild
// that lets the child's stderr through to the terminal shows it above the results.
const planted = '[kata: the test child fails here on purpose]';

describe('runChild', () => {
  test('runs the script in a child process of its own and resolves with its reply', async () => {
    const timeline = new Timeline();
    const before = spawnCounts().children;
    const payload = { greeting: 'hello', numbers: [1, 2, 3] };
    const request: TestRequest = { do: 'echo', payload };
    const running = ask<Echo>(request);
    const end = timeline.begin('echo child');
    // A fork took up to 2.7 s to start, reply and exit beside a CPU hog.
    const reply = await replyWithin(10_000, running, 'runChild never settled for a child that replies at once and exits', {
      request,
      before,
      does: 'this child sends back its pid and its input at once, then exits with code 0',
    });
    const span = end();
    span.pid = reply?.pid ?? span.pid;

    const started = startedSince(before);
    expect(started.length, `runChild should start exactly one child process; it started ${started.length}.`).toBe(1);
    expect(
      reply?.payload,
      `runChild should resolve with the message the child sent back (it echoes its input); it resolved with ${shownReason(reply)}.`,
    ).toEqual(payload);
    expect(reply.pid, 'The child replied from the test’s own pid: the script did not run in a separate process.').not.toBe(process.pid);
    expect(reply.pid, `The reply came from pid ${reply.pid}, not from the child runChild started (pid ${started[0]!.pid}).\n${timeline.toText()}\n`).toBe(
      started[0]!.pid,
    );
  });

  test('settles once the child has exited, not as soon as its reply arrives', async () => {
    const timeline = new Timeline();
    const before = spawnCounts().children;
    // This child replies at once, then stays alive for another 300 ms before it exits with code 0.
    const request: TestRequest = { do: 'echo', payload: 'done', lingerMs: 300 };
    const running = ask<Echo>(request);
    const end = timeline.begin('lingering child');
    const reply = await replyWithin(5_000, running, 'runChild never settled for a child that replies, then exits after 300 ms', {
      request,
      before,
      does: 'this child sends back its pid and its input at once, then exits with code 0 after 300 ms',
    });
    const span = end();
    const [child] = startedSince(before);
    span.pid = child?.pid ?? span.pid;
    expect(reply?.payload, `runChild resolved with ${JSON.stringify(reply)}: it must resolve with the child's reply ({ payload: 'done' } here).`).toBe('done');
    expect(
      { exitCode: child?.exitCode, signal: child?.signalCode },
      'runChild resolved while the child was still running (or after killing it): only the exit tells whether the ' +
        'child succeeded, so resolve with the reply when the child has exited with code 0.\n' +
        `${timeline.toText()}\n`,
    ).toEqual({ exitCode: 0, signal: null });
  });

  test('settles for a child that prints 1 MiB on stdout before it replies and exits', async () => {
    const before = spawnCounts().children;
    // The test process's stdout, by device and inode: the child prints its 1 MiB only where stdout
    // is a file of its own (a pipe runChild made, /dev/null), never onto the test's output.
    const own = fstatSync(1, { bigint: true });
    const request: TestRequest = {
      do: 'print-then-reply',
      payload: 'printed, then replied',
      bytes: 1 << 20,
      testStdout: { dev: String(own.dev), ino: String(own.ino) },
    };
    const outcome = await settlementWithin(ask<Printed>(request), 10_000);
    const [child] = startedSince(before);
    let seen: string;
    if (outcome.state === 'pending') {
      const alive = child !== undefined && isChildAlive(child);
      const stdout = child?.stdout;
      const unread = alive && stdout != null && stdout.readableFlowing !== true;
      seen =
        'runChild had not settled 10 s after it started a child that prints 1 MiB on stdout, then replies and exits with code 0. ' +
        (unread
          ? `The child was still running, and its stdout was a pipe to this process that nothing read (${stdout.readableLength} bytes ` +
            'waiting in it): a pipe holds only so much, and a child that writes more is stopped in that write until someone reads, ' +
            'so it never got to reply or exit. A stdout that runChild pipes (silent: true, stdio "pipe") must be read, or left to ' +
            'the parent’s own (stdio "inherit").'
          : `Seen: ${childrenSeen(before)}.`);
      // Killed here, so that the test reports its own finding rather than the clean-up's.
      if (alive) child.kill('SIGKILL');
    } else if (outcome.state === 'rejected') {
      seen =
        `runChild(test-child.harness.ts, { do: 'print-then-reply', ... }) rejected with ${shownReason(outcome.reason)}, where the test ` +
        `expected the child's reply: this child prints 1 MiB on stdout, then sends back its input, then exits with code 0. Seen: ${childrenSeen(before)}.`;
    } else {
      seen = `runChild resolved with ${shownReason(outcome.value)}: it must resolve with the child's reply ({ payload: 'printed, then replied', ... }).`;
    }
    expect(outcome.state === 'resolved' && outcome.value?.payload, seen).toBe('printed, then replied');
  });

  test('resolves with the first message the child sends, not a later one', async () => {
    // This child sends two messages, then exits with code 0.
    const before = spawnCounts().children;
    const request: TestRequest = { do: 'reply-twice', first: 'the first reply', second: 'a second message' };
    const reply = await replyWithin(10_000, ask<string>(request), 'runChild never settled for a child that sends two messages and exits', {
      request,
      before,
      does: 'this child sends "the first reply", then "a second message", then exits with code 0',
    });
    expect(
      reply,
      `runChild resolved with ${shownReason(reply)}; the child sent "the first reply", then "a second message". runChild resolves ` +
        'with the first message the child sends back: keep that one (a `once` listener, or ignore what comes after it).',
    ).toBe('the first reply');
  });

  test('resolves with a reply of 0, false, an empty string or null like any other', async () => {
    const payloads = [0, false, '', null];
    const settled = await within(
      10_000,
      Promise.allSettled(payloads.map((payload) => ask<unknown>({ do: 'reply', payload }))),
      'runChild never settled for children that each reply once (with 0, false, "" and null) and exit',
    );
    for (const rethrown of settled) if (rethrown.status === 'rejected' && isNotImplemented(rethrown.reason)) throw rethrown.reason;
    const seen = settled.map((outcome) =>
      outcome.status === 'fulfilled' ? `resolved with ${shownReason(outcome.value)}` : `rejected with ${shownReason(outcome.reason)}`,
    );
    expect(
      seen,
      `Each child replied (with 0, false, "" and null) and exited with code 0, so each call should resolve with its reply. runChild: ${seen.join('; ')}. ` +
        'A reply that is falsy is still a reply: if runChild asks the reply itself whether there was one, 0, false, "" ' +
        'and null look like none. Remember whether a message arrived instead.',
    ).toEqual(payloads.map((payload) => `resolved with ${shownReason(payload)}`));
  });

  test('the child has a memory of its own: neither side sees the other’s writes', async () => {
    // The parent writes to its copy of a module before the child starts; the child reads and
    // writes its own copy of the same module and reports both values.
    moduleState.value = 'written by the parent';
    try {
      const before = spawnCounts().children;
      const request: TestRequest = { do: 'touch-state' };
      const seen = await replyWithin(
        10_000,
        ask<{ before: string; after: string }>(request),
        'runChild never settled for a child that replies at once and exits',
        { request, before, does: 'this child writes to its copy of a module, sends back what it read and wrote, then exits with code 0' },
      );
      expect(
        seen?.before,
        'The child saw the parent’s write. A forked Node child starts as a fresh process that loads every module anew; ' +
          'it inherits no memory from its parent.',
      ).toBe('initial');
      expect(seen.after, `runChild resolved with ${JSON.stringify(seen)}: it must resolve with the child's reply, which says what the child wrote.`).toBe(
        'written by the child',
      );
      expect(moduleState.value, 'The parent’s copy of the module changed when the child wrote to its own: processes do not share memory.').toBe(
        'written by the parent',
      );
    } finally {
      moduleState.value = 'initial';
    }
  });

  test('a non-zero exit code becomes a ChildFailed carrying that code and the child’s stderr', async () => {
    const error = await failureWithin(5_000, () => ask({ do: 'exit', code: 3, stderr: `${planted} cannot go on: the input file is missing\n` }), {
      hung: 'runChild never settled for a child that exits with code 3',
      resolved:
        'runChild resolved although the child exited with code 3. Ignoring the exit code hides every failure in the ' +
        'child: check the code in the "exit" (or "close") event and reject unless it is 0.',
    });
    expect(error, `runChild rejected, but with ${shownReason(error)} instead of a ChildFailed.`).toBeInstanceOf(ChildFailed);
    const failed = error as ChildFailed;
    expect(failed.exitCode, 'The ChildFailed should carry the child’s exit code.').toBe(3);
    expect(
      failed.stderr,
      'The ChildFailed should carry what the child wrote to its stderr (here "cannot go on: ..."): without it nobody ' +
        'can tell why the child failed. Pipe the child’s stderr (the `stdio` option of fork) and collect its text.',
    ).toContain('cannot go on: the input file is missing');
    // Node's own warnings, if any, may stand beside it; nothing else may.
    const written = `${planted} cannot go on: the input file is missing\n`;
    const rest = failed.stderr
      .replace(written, '')
      .split('\n')
      .filter((line) => line !== '' && !/^\((node:\d+|Use `node)/.test(line));
    expect(
      rest,
      `The ChildFailed's stderr holds more than the child wrote: ${JSON.stringify(failed.stderr)}. Collect the text as it comes, ` +
        'starting from \'\' (a text that starts out undefined begins with "undefined"), and keep each chunk once.',
    ).toEqual([]);
  });

  test('a ChildFailed carries long stderr whole, with no character split between chunks', async () => {
    // 100,000 euro signs: 300,000 bytes of UTF-8, three bytes to a character, read through the
    // pipe in chunks (64 KiB at most) whose edges fall inside characters.
    const euros = 100_000;
    const written = `${planted} a long complaint follows\n${'€'.repeat(euros)}\n`;
    const error = await failureWithin(10_000, () => ask({ do: 'exit', code: 4, stderr: written }), {
      hung: 'runChild never settled for a child that writes 300 KB to stderr and exits with code 4',
      resolved: 'runChild resolved although the child exited with code 4 (after writing 300 KB to stderr).',
    });
    expect(error, `runChild rejected, but with ${shownReason(error)} instead of a ChildFailed.`).toBeInstanceOf(ChildFailed);
    const failed = error as ChildFailed;
    expect({ exitCode: failed.exitCode, signal: failed.signal }, 'The ChildFailed should carry the child’s exit code (4).').toEqual({
      exitCode: 4,
      signal: null,
    });
    const stderr = String(failed.stderr);
    const replaced = [...stderr].filter((character) => character === '\uFFFD').length;
    const kept = [...stderr].filter((character) => character === '€').length;
    // Node's own warnings, if any, may stand before it: the test looks for the text the child wrote.
    expect(
      stderr.includes(written),
      `The child wrote a line, then ${euros.toLocaleString('en')} "€" (${Buffer.byteLength(written).toLocaleString('en')} bytes) to its ` +
        `stderr and exited with code 4; the ChildFailed's stderr holds ${stderr.length.toLocaleString('en')} characters, ` +
        `${kept.toLocaleString('en')} of them "€". ` +
        (replaced > 0
          ? `${replaced} are U+FFFD, the replacement character: each stderr chunk was turned into text on its own, so a ` +
            '"€" whose three bytes straddled two chunks became two halves that are not characters. Decode the stream as ' +
            'a whole (setEncoding on the stream), or join its Buffers before turning them into text.'
          : 'Part of what the child wrote was lost or changed: collect every chunk until the "close" event (after ' +
            '"exit", the pipe may still hold stderr), and decode it as UTF-8.'),
    ).toBe(true);
  });

  test('an uncaught exception in the child becomes a ChildFailed with exit code 1 and the error in stderr', async () => {
    const error = await failureWithin(5_000, () => ask({ do: 'throw', message: `something broke in the child ${planted}` }), {
      hung: 'runChild never settled for a child that throws',
      resolved:
        'runChild resolved although the child crashed with an uncaught exception (exit code 1). Ignoring the exit code ' +
        'hides every failure in the child: reject unless the exit code is 0.',
    });
    expect(error, `runChild rejected, but with ${shownReason(error)} instead of a ChildFailed.`).toBeInstanceOf(ChildFailed);
    const failed = error as ChildFailed;
    expect(failed.exitCode, 'A Node process that dies of an uncaught exception exits with code 1.').toBe(1);
    expect(failed.stderr, 'The ChildFailed should carry the child’s stderr, where Node printed the uncaught error.').toContain(
      'Error: something broke in the child',
    );
  });

  test.skipIf(process.platform === 'win32')('a child killed by a signal becomes a ChildFailed carrying the signal', async () => {
    const error = await failureWithin(5_000, () => ask({ do: 'kill-self' }), {
      hung: 'runChild never settled for a child that is killed by SIGKILL',
      resolved:
        'runChild resolved although the child was killed by SIGKILL. A killed child has exit code null, and its signal ' +
        'says why: `if (code)` or `code > 0` treats null as success. Reject unless the code is exactly 0.',
    });
    expect(error, `runChild rejected, but with ${shownReason(error)} instead of a ChildFailed.`).toBeInstanceOf(ChildFailed);
    expect({ exitCode: (error as ChildFailed).exitCode, signal: (error as ChildFailed).signal }).toEqual({ exitCode: null, signal: 'SIGKILL' });
  });

  test('a child that replies and then exits with code 3 is a ChildFailed: the exit code, not the reply, decides', async () => {
    const error = await failureWithin(
      5_000,
      () => ask({ do: 'reply-then-exit', payload: 'looks done', code: 3, stderr: `${planted} failed after replying\n` }),
      {
        hung: 'runChild never settled for a child that replies, then exits with code 3',
        resolved:
          'runChild resolved with the reply although the child then exited with code 3. A reply does not make the child ' +
          'succeed: resolve only once it has exited with code 0, and reject with a ChildFailed for any other exit, replied or not.',
      },
    );
    expect(error, `runChild rejected, but with ${shownReason(error)} instead of a ChildFailed.`).toBeInstanceOf(ChildFailed);
    const failed = error as ChildFailed;
    expect({ exitCode: failed.exitCode, signal: failed.signal }, 'The ChildFailed should carry the child’s exit code.').toEqual({ exitCode: 3, signal: null });
    expect(failed.stderr, 'The ChildFailed should carry the child’s stderr.').toContain('failed after replying');
  });

  test.skipIf(process.platform === 'win32')('a child killed by SIGTERM becomes a ChildFailed carrying SIGTERM', async () => {
    const error = await failureWithin(5_000, () => ask({ do: 'kill-self', signal: 'SIGTERM' }), {
      hung: 'runChild never settled for a child that is killed by SIGTERM',
      resolved:
        'runChild resolved although the child was killed by SIGTERM (exit code null, signal SIGTERM): a child ' +
        'killed by any signal failed. Reject unless the code is exactly 0.',
    });
    expect(
      error,
      `runChild rejected with ${shownReason(error)} instead of a ChildFailed. The child was killed by SIGTERM (exit code null): ` +
        'every signal that ends a child, not only SIGKILL, is a failure that carries its signal.',
    ).toBeInstanceOf(ChildFailed);
    expect({ exitCode: (error as ChildFailed).exitCode, signal: (error as ChildFailed).signal }).toEqual({ exitCode: null, signal: 'SIGTERM' });
  });

  test('a child that exits with code 0 without replying is an error, not a hang', async () => {
    const error = await failureWithin(5_000, () => ask({ do: 'exit-without-reply' }), {
      hung: 'runChild never settled for a child that exits with code 0 without a reply: wait for its exit, not only for a message',
      resolved: 'runChild resolved although the child exited without sending a reply: there is no result to resolve with.',
    });
    expect(error, `runChild should reject with an Error; it rejected with ${shownReason(error)}.`).toBeInstanceOf(Error);
  });

  test('an abort kills a child that ignores SIGTERM: its pid is gone within 3 s', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kata-child-'));
    const readyFile = path.join(dir, 'ready');
    const sigtermFile = path.join(dir, 'sigterm');
    const timeline = new Timeline();
    try {
      const controller = new AbortController();
      const running = ask({ do: 'ignore-sigterm', readyFile, sigtermFile }, { signal: controller.signal });
      const end = timeline.begin('stubborn child');
      running.catch(() => {}); // Judged below, after the abort.

      // Abort only once the child is up and ignoring SIGTERM: it writes its pid to readyFile then.
      const ready = await readyBeforeSettled(readyFile, 5_000, running);
      expect(ready, `runChild settled before its child had even started working: it ${ready}.`).toBe(true);
      const pid = Number(readFileSync(readyFile, 'utf8'));
      timeline.spans.at(-1)!.pid = pid;

      controller.abort();
      const [outcome, alive] = await Promise.allSettled([
        within(3_000, running, 'runChild did not settle within 3 s of the abort'),
        pidsStillAlive([pid], 3_000),
      ]);
      end();
      const stillRunning = alive.status === 'fulfilled' && alive.value.length > 0;
      expect(
        stillRunning,
        existsSync(sigtermFile)
          ? `The child (pid ${pid}) ignores SIGTERM, and it is still running 3 s after the abort. A process may catch ` +
              "or ignore SIGTERM; SIGKILL it cannot (fork's `killSignal` option, or child.kill('SIGKILL')).\n" +
              `${timeline.toText()}\n`
          : `The child (pid ${pid}) is still running 3 s after the abort: runChild never stopped it. Rejecting the ` +
              "promise does not end the process; kill it (fork's `signal` option does, with `killSignal`).\n" +
              `${timeline.toText()}\n`,
      ).toBe(false);
      expect(outcome.status, 'runChild resolved although the signal aborted it.').toBe('rejected');
      const reason = (outcome as PromiseRejectedResult).reason as Error;
      expect(reason?.name, `After an abort, runChild should reject with an AbortError; it rejected with ${shownReason(reason)}.`).toBe('AbortError');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an already aborted signal rejects with an AbortError and leaves no child behind', async () => {
    // A child that ignores SIGTERM and never ends by itself: one that was forked and not killed stays.
    const dir = mkdtempSync(path.join(tmpdir(), 'kata-child-'));
    const before = spawnLog().children.length;
    try {
      const request = { do: 'ignore-sigterm', readyFile: path.join(dir, 'ready'), sigtermFile: path.join(dir, 'sigterm') } as const;
      const error = await failureWithin(5_000, () => ask(request, { signal: AbortSignal.abort() }), {
        hung: 'runChild never settled when its signal was already aborted',
        resolved: 'runChild resolved although its signal was already aborted: the work should not run at all.',
      });
      const pids = spawnLog()
        .children.slice(before)
        .flatMap((child) => (child.pid === undefined ? [] : [child.pid]));
      const alive = await pidsStillAlive(pids, 3_000);
      expect(
        alive,
        `runChild rejected, but it had forked a child (pid ${alive.join(', ')}) for a signal aborted already, and that child ` +
          `was still running 3 s later (this test's child never ends by itself, and ignores SIGTERM once it has its request). ` +
          `Check signal.aborted before forking, or hand the signal to fork with killSignal 'SIGKILL' (an 'abort' listener ` +
          `added to a signal aborted already never runs).`,
      ).toEqual([]);
      expect((error as Error)?.name, `runChild should reject with an AbortError; it rejected with ${shownReason(error)}.`).toBe('AbortError');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an abort given a reason of its own (abort(error)) still rejects with an AbortError', { timeout: 40_000 }, async () => {
    // The reason says why the caller stopped; what runChild rejects with is an AbortError all the same.
    const notAbortError = (error: unknown, reason: Error, when: string) =>
      error === reason
        ? `After ${when}, runChild rejected with the very reason given to abort() (${shownReason(error)}), not with an ` +
          'AbortError. signal.reason is whatever the caller passed to abort(), and an AbortError only when abort() got ' +
          'nothing: whatever the reason, reject with an error named AbortError (the reason may ride along as its `cause`).'
        : `After ${when}, runChild should reject with an AbortError, whatever reason abort() was given; it rejected with ${shownReason(error)}.`;

    // A signal aborted already, with a reason.
    const early = new Error('cancelled before the call [kata: a reason the test gave abort()]');
    const error = await failureWithin(5_000, () => ask({ do: 'echo', payload: 'never needed' }, { signal: AbortSignal.abort(early) }), {
      hung: 'runChild never settled when its signal was already aborted with a reason (AbortSignal.abort(error))',
      resolved: 'runChild resolved although its signal was already aborted with a reason (AbortSignal.abort(error)): the work should not run at all.',
    });
    expect((error as Error)?.name, notAbortError(error, early, 'AbortSignal.abort(error), a signal aborted before the call')).toBe('AbortError');

    // A signal that aborts, with a reason, while the child works (it never ends by itself).
    const dir = mkdtempSync(path.join(tmpdir(), 'kata-child-'));
    const readyFile = path.join(dir, 'ready');
    try {
      const controller = new AbortController();
      const before = spawnCounts().children;
      const running = ask({ do: 'ignore-sigterm', readyFile, sigtermFile: path.join(dir, 'sigterm') }, { signal: controller.signal });
      running.catch(() => {}); // Judged below, after the abort.
      const ready = await readyBeforeSettled(readyFile, 10_000, running);
      expect(
        ready,
        ready === false
          ? `The test child never said it was at work, 10 s after runChild started it: ${childrenSeen(before)}.`
          : `runChild settled before the signal aborted, while its child was still at work: it ${ready}.`,
      ).toBe(true);

      const late = new Error('cancelled while the child worked [kata: a reason the test gave abort()]');
      controller.abort(late);
      const failure = await failureWithin(3_000, () => running, {
        hung: 'runChild did not settle within 3 s of controller.abort(error)',
        resolved: 'runChild resolved although its signal aborted (controller.abort(error)) while the child worked.',
      });
      expect((failure as Error)?.name, notAbortError(failure, late, 'controller.abort(error) while the child worked')).toBe('AbortError');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an abort after the child has replied, before it has exited, still kills it and rejects with an AbortError', { timeout: 40_000 }, async () => {
    // The child replies, then never ends by itself: runChild has its reply but has not settled yet.
    const dir = mkdtempSync(path.join(tmpdir(), 'kata-child-'));
    const readyFile = path.join(dir, 'replied');
    const timeline = new Timeline();
    try {
      const controller = new AbortController();
      const before = spawnCounts().children;
      const running = ask({ do: 'reply-then-linger', payload: 'the answer', readyFile }, { signal: controller.signal });
      const end = timeline.begin('replied, not exited');
      running.catch(() => {}); // Judged below, after the abort.

      // The child writes readyFile once its reply has been handed to the channel (or pipe).
      const ready = await readyBeforeSettled(readyFile, 10_000, running);
      expect(
        ready,
        ready === false
          ? `The test child never said it had sent its reply, 10 s after runChild started it: ${childrenSeen(before)}.`
          : `runChild settled although its child had not exited (it replies, then never ends by itself): it ${ready}. ` +
              'It settles once the child has exited.',
      ).toBe(true);
      const pid = Number(readFileSync(readyFile, 'utf8'));
      timeline.spans.at(-1)!.pid = pid;
      // The reply was sent before readyFile was written. A few turns of the event loop, each of which
      // polls for I/O, and it has reached runChild: the abort comes after the reply, before the exit.
      for (let turn = 0; turn < 3; turn += 1) await new Promise<void>((resolve) => setImmediate(resolve));

      controller.abort();
      const [outcome, alive] = await Promise.allSettled([
        within(3_000, running, 'runChild did not settle within 3 s of an abort that came after the reply'),
        pidsStillAlive([pid], 3_000),
      ]);
      end();
      const stillRunning = alive.status === 'fulfilled' && alive.value.length > 0;
      expect(
        stillRunning,
        `The child (pid ${pid}) had sent its reply but had not exited when the signal aborted, and 3 s later it still ran: ` +
          'nothing killed it. Until runChild settles, an abort kills the child whatever it is doing, replied or not, ' +
          `and rejects with an AbortError.\n${timeline.toText()}\n`,
      ).toBe(false);
      expect(
        outcome.status === 'fulfilled' ? `resolved with ${shownReason(outcome.value)}` : (outcome.reason as Error)?.name,
        outcome.status === 'fulfilled'
          ? `runChild resolved with ${shownReason(outcome.value)} although its signal aborted before the child had exited: ` +
              'the abort came first, so runChild rejects with an AbortError.'
          : `After an abort between the child's reply and its exit, runChild should reject with an AbortError; it rejected with ${shownReason(outcome.reason)}.`,
      ).toBe('AbortError');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sumOfSquaresInChild', () => {
  test('computes the sum in a child process and sends it back', async () => {
    const timeline = new Timeline();
    const before = spawnCounts().children;
    const running = sumOfSquaresInChild(100_000);
    const end = timeline.begin('sum of squares');
    const sum = await valueWithin(
      5_000,
      running,
      'sumOfSquaresInChild(100000) never settled',
      (reason) =>
        `sumOfSquaresInChild(100000) rejected with ${shownReason(reason)}, where the test expected 1² + 2² + ... + 100000² = 333338333350000, ` +
        `sent back by the child. Seen: ${childrenSeen(before)}.`,
    );
    const span = end();
    const started = startedSince(before);
    span.pid = started[0]?.pid ?? span.pid;

    expect(started.length, `sumOfSquaresInChild should run its work in one child process; it started ${started.length}.`).toBe(1);
    expect(
      sum,
      `sumOfSquaresInChild(100000) resolved with ${shownReason(sum)}. Parent and child do not share memory: a result the ` +
        'child stores in a variable or a module export changes only the child’s own copy. The child must send it ' +
        'back as a message (process.send), and the parent resolve with that message.',
    ).toBe(333_338_333_350_000);
  });

  test('passes its options on to runChild: an aborted signal rejects with an AbortError', async () => {
    const error = await failureWithin(5_000, () => sumOfSquaresInChild(10, { signal: AbortSignal.abort() }), {
      hung: 'sumOfSquaresInChild(10, { signal }) never settled when its signal was already aborted',
      resolved: 'sumOfSquaresInChild(10, { signal }) resolved although its signal was already aborted: pass `options` on to runChild.',
    });
    expect((error as Error)?.name, `sumOfSquaresInChild should reject with an AbortError; it rejected with ${shownReason(error)}.`).toBe('AbortError');
  });
});
