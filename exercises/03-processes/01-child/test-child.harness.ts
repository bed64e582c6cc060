/**
 * The child the tests run through runChild. Each request says what to do: answer, fail in a
 * chosen way, or refuse to die. It talks over IPC when it has a channel (fork), and in JSON lines
 * on stdin/stdout when it has none (spawn), so either way of talking to a child passes.
 */
import { appendFileSync, fstatSync, renameSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { moduleState } from './module-state.harness.ts';

export type TestRequest =
  | { do: 'echo'; payload: unknown; lingerMs?: number }
  | { do: 'reply'; payload: unknown }
  | { do: 'reply-twice'; first: unknown; second: unknown }
  | { do: 'reply-then-exit'; payload: unknown; code: number; stderr: string }
  | { do: 'exit'; code: number; stderr: string }
  | { do: 'throw'; message: string }
  | { do: 'kill-self'; signal?: NodeJS.Signals }
  | { do: 'exit-without-reply' }
  | { do: 'touch-state' }
  | { do: 'ignore-sigterm'; readyFile: string; sigtermFile: string }
  | { do: 'reply-then-linger'; payload: unknown; readyFile: string }
  | { do: 'print-then-reply'; payload: unknown; bytes: number; testStdout: { dev: string; ino: string } };

function reply(message: unknown): void {
  if (process.send) process.send(message);
  else process.stdout.write(`${JSON.stringify(message)}\n`);
}

/** Replies as `reply` does, then calls `written` once the reply has been handed to the channel (or pipe). */
function replyThen(message: unknown, written: () => void): void {
  if (process.send) process.send(message, undefined, undefined, () => written());
  else process.stdout.write(`${JSON.stringify(message)}\n`, () => written());
}

/** Whether this process's stdout is the file `other` names (device and inode): the test's own, inherited. */
function stdoutIs(other: { dev: string; ino: string }): boolean {
  try {
    const own = fstatSync(1, { bigint: true });
    return String(own.dev) === other.dev && String(own.ino) === other.ino;
  } catch {
    return false;
  }
}

/** Writes this child's pid to `file`, aside first and then renamed, so the test never reads it half-written. */
function writePid(file: string): void {
  writeFileSync(`${file}.partial`, String(process.pid));
  renameSync(`${file}.partial`, file);
}

function onRequest(handle: (request: TestRequest) => void): void {
  // One request per child: `once`, so the child can end when its work is done.
  if (process.send) {
    process.once('message', handle);
    return;
  }
  const lines = createInterface({ input: process.stdin });
  lines.once('line', (line) => {
    lines.close();
    handle(JSON.parse(line) as TestRequest);
  });
}

onRequest((request) => {
  switch (request.do) {
    case 'echo':
      reply({ pid: process.pid, payload: request.payload });
      // Stay alive a little after replying: the parent must wait for the exit, not the reply.
      if (request.lingerMs) setTimeout(() => {}, request.lingerMs);
      return;
    case 'reply':
      reply(request.payload);
      return;
    case 'reply-twice':
      reply(request.first);
      reply(request.second);
      return;
    case 'reply-then-exit':
      // The work was answered, then the child failed: its exit code is the verdict.
      reply(request.payload);
      process.stderr.write(request.stderr);
      process.exitCode = request.code;
      return;
    case 'exit':
      process.stderr.write(request.stderr);
      // exitCode (not process.exit) lets stderr drain before the process ends.
      process.exitCode = request.code;
      return;
    case 'throw':
      throw new Error(request.message);
    case 'kill-self':
      process.kill(process.pid, request.signal ?? 'SIGKILL');
      return;
    case 'exit-without-reply':
      return;
    case 'touch-state': {
      const before = moduleState.value;
      moduleState.value = 'written by the child';
      reply({ before, after: moduleState.value });
      return;
    }
    case 'ignore-sigterm':
      // A child that will not stop politely: SIGTERM is caught and noted, never obeyed.
      process.on('SIGTERM', () => appendFileSync(request.sigtermFile, 'SIGTERM\n'));
      setInterval(() => {}, 1_000);
      writePid(request.readyFile);
      return;
    case 'print-then-reply': {
      // Prints `bytes` on stdout, then replies once they are written (a write to a pipe nobody
      // reads never is). Only onto a stdout of this child's own (a pipe its parent made, or
      // /dev/null): where stdout is the test process's own, inherited, whoever runs the tests reads
      // it, and 1 MiB there would only flood their screen; over JSON lines, stdout carries the reply.
      if (!process.send || stdoutIs(request.testStdout)) {
        reply({ payload: request.payload, printed: 0 });
        return;
      }
      const line = '[kata: the test child prints this on stdout on purpose, to see that its parent lets it finish]\n';
      const text = line.repeat(Math.ceil(request.bytes / line.length));
      process.stdout.write(text, () => reply({ payload: request.payload, printed: Buffer.byteLength(text) }));
      return;
    }
    case 'reply-then-linger':
      // The work is answered, but the child never ends by itself. It writes its pid to readyFile
      // only once its reply is on its way, so the test can abort between the reply and the exit.
      setInterval(() => {}, 1_000);
      replyThen(request.payload, () => writePid(request.readyFile));
      return;
  }
});
