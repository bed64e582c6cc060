import { afterEach, beforeEach } from 'vitest';
import { sleep } from './deadline.ts';
import { type LoopbackServer, startLoopbackServer } from './loopback-server.ts';

/**
 * A fresh loopback server for every test of the file, handed to `onStart`. After each test, the
 * server releases what it still holds, the work the test tracked gets up to 3 s to settle (a
 * wrong answer may still be waiting on a held request), and the server closes. (Not in
 * loopback-server.ts: the bench uses that file, without Vitest.)
 */
export function loopbackServerForEachTest(onStart: (server: LoopbackServer) => void): {
  /** Records work the clean-up waits for; its failure is observed, so a test that gave up on it leaves no unhandled rejection. */
  track(work: PromiseLike<unknown>): void;
} {
  let server: LoopbackServer | undefined;
  const tracked: Array<Promise<unknown>> = [];
  beforeEach(async () => {
    server = await startLoopbackServer();
    onStart(server);
  });
  afterEach(async () => {
    server?.release();
    await Promise.race([Promise.allSettled(tracked.splice(0)), sleep(3_000)]);
    await server?.close();
  });
  return { track: (work) => void tracked.push(Promise.resolve(work).catch(() => {})) };
}
