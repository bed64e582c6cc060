/**
 * The watchdog's thread (started by watchdog.ts). A loop on the thread running the tests stops
 * every timer there, deadlines included; this thread keeps running, so it is the one that notices.
 * Through the inspector it pauses the main thread to read where it is, hands it the error, and
 * ends the JavaScript it is running; the main thread, free again, fails the test.
 *
 * The thread runs this function's source text (`eval`), compiled already by Vitest: a .ts worker
 * file would start Node's type stripper in every test file's process, at 60-170 ms of CPU each.
 * So it is self-contained: it takes Node's modules from `process.getBuiltinModule`.
 */
export function watchdogThread(): void {
  const { Session } = process.getBuiltinModule('node:inspector');
  const path = process.getBuiltinModule('node:path');
  const { readdirSync, readFileSync, writeSync } = process.getBuiltinModule('node:fs');
  const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads');

  const { beats, stallMs, root } = workerData as { beats: Int32Array; stallMs: number; root: string };

  /** The main thread's own CPU time in ms, where Linux shows it (its thread id is the process id). */
  const mainThreadCpuMs = (): number | undefined => {
    try {
      return Number(readFileSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
    } catch {
      return undefined;
    }
  };

  let seen = Atomics.load(beats, 0);
  let since = performance.now();
  let cpuSince = mainThreadCpuMs();
  let stopping = false;
  /** How long the loop had held the thread when it was stopped, in whole seconds, for the message. */
  let stalledSeconds = stallMs / 1000;
  /**
   * A loop holds the CPU: stalled for stallMs with the thread busy half of it or more. A thread that
   * got little CPU may only be starved by a busy machine (verify's lanes beside a program that starts
   * 200 threads at once kept a healthy loop from turning for 5 s): it gets three times as long. A
   * thread asleep in a blocking call (Atomics.wait) uses no CPU either, and is stopped then too.
   */
  const isLooping = (stalledMs: number) => {
    const cpu = mainThreadCpuMs();
    if (cpu === undefined || cpuSince === undefined) return true;
    return cpu - cpuSince >= stallMs / 2 || stalledMs >= 3 * stallMs;
  };
  // Also what keeps this thread alive while it stops a loop: an inspector session does not.
  setInterval(() => {
    if (stopping) return;
    const beat = Atomics.load(beats, 0);
    if (beat !== seen) {
      seen = beat;
      since = performance.now();
      cpuSince = mainThreadCpuMs();
    } else if (performance.now() - since >= stallMs && isLooping(performance.now() - since)) {
      stopping = true;
      stalledSeconds = Math.round((performance.now() - since) / 1000);
      stop()
        .catch((error: unknown) => console.error(`The watchdog could not stop the loop: ${(error as Error).stack}`))
        .finally(() => {
          since = performance.now();
          cpuSince = mainThreadCpuMs();
          stopping = false;
        });
    }
  }, 250);

  async function stop(): Promise<void> {
    // JavaScript answers the inspector at once; native code blocked in a call (execSync of a child
    // that never ends) does not, and may never return: then the only way on is to end this process.
    const stuck = setTimeout(() => {
      writeSync(2, `\n${message('a blocking call (execSync, spawnSync, a read of a pipe)')} This test file's process was ended.\n`);
      // Its children first (the blocked call's among them), which would outlive it.
      for (const pid of descendants(process.pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      process.kill(process.pid, 'SIGKILL');
    }, stallMs);
    const session = new Session();
    session.connectToMainThread();
    const post = <T>(method: string, params?: object) =>
      new Promise<T>((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result as T))));
    const paused = (method: string) => {
      const frame = new Promise<string>((resolve) => session.once('Debugger.paused', ({ params }) => resolve(params.callFrames[0]!.callFrameId)));
      return post(method).then(() => frame);
    };
    try {
      await post('Debugger.enable');
      let frame = await paused('Debugger.pause');
      clearTimeout(stuck);
      let stack = '';
      // A loop of awaits may be paused between two of its steps, in Node's own code: step into the
      // next one (a few steps at most) to find the learner's line.
      for (let step = 0; step < 20; step += 1) {
        // A stack trace made where the loop is, by the main thread itself: Vitest maps its lines
        // back from the compiled code to the learner's TypeScript.
        const { result } = await post<{ result: { value?: string } }>('Debugger.evaluateOnCallFrame', { callFrameId: frame, expression: 'new Error().stack' });
        // Its first two lines are the error's and the evaluated expression's own.
        stack = (result.value ?? '').split('\n').slice(2).join('\n');
        if (where(stack)) break;
        frame = await paused('Debugger.stepInto');
      }
      // Handed over now, synchronously: once the loop is stopped, the main thread may run an expired
      // deadline before any message from here, and that deadline must report the loop.
      const report = `globalThis[Symbol.for('concurrency-kata.watchdog')]?.stall(${JSON.stringify(message(where(stack)))}, ${JSON.stringify(stack)})`;
      await post('Debugger.evaluateOnCallFrame', { callFrameId: frame, expression: report });
      // Ends the JavaScript the main thread is running (the loop, and the test function that called
      // it) without ending the thread, whose event loop then turns again. The reply comes once the
      // paused code has been resumed and unwound.
      await Promise.all([post('Runtime.terminateExecution'), post('Debugger.resume')]);
      // Wakes the main thread in case nothing else does: it fails the test if no deadline did.
      parentPort!.postMessage('stalled');
    } finally {
      session.disconnect();
    }
  }

  /** The processes started by `pid` and by theirs, where Linux lists them (/proc), else none. */
  function descendants(pid: number): number[] {
    try {
      const children = readdirSync(`/proc/${pid}/task`).flatMap((task) =>
        readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
      );
      return children.flatMap((child) => [...descendants(child), child]);
    } catch {
      return [];
    }
  }

  /** `file:line (in fn)` of the innermost frame in a file of the kata's (not Node's, not a library's). */
  function where(stack: string): string | undefined {
    for (const [, fn, file, line] of stack.matchAll(/^ *at (?:(?:async )?(.+?) \()?(?:file:\/\/)?(\/[^():]+):(\d+):\d+\)?$/gm)) {
      if (!file!.includes('/node_modules/')) return `${path.relative(root, file!)}:${line}${fn ? ` (in ${fn})` : ''}`;
    }
    return undefined;
  }

  function message(where: string | undefined): string {
    return (
      `The event loop of the thread running this test has not turned for ${stalledSeconds} s: ` +
      `${where ?? 'its code'} ran all that time without giving the thread back. ` +
      'A synchronous loop (while/for), a loop of `await Promise.resolve()` or a call that blocks (Atomics.wait) never lets timers, I/O ' +
      'or other promises run on this thread, so what it waits for cannot happen, and no deadline can fire. ' +
      'Instead of checking again and again, await the promise of the thing you are waiting for.'
    );
  }
}
