import { fork, type Serializable } from 'node:child_process';

/** How a child process failed: its exit code (or the signal that killed it) and what it wrote to stderr. */
export class ChildFailed extends Error {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;

  constructor(exitCode: number | null, signal: NodeJS.Signals | null, stderr: string) {
    const how = signal ? `was killed by ${signal}` : `exited with code ${exitCode}`;
    super(`The child process ${how}${stderr ? `. Its stderr:\n${stderr}` : ', and wrote nothing to stderr'}`);
    this.name = 'ChildFailed';
    this.exitCode = exitCode;
    this.signal = signal;
    this.stderr = stderr;
  }
}

export interface RunOptions {
  /** Aborting it kills the child, whatever it is doing, and rejects with an AbortError. */
  signal?: AbortSignal;
}

/**
 * Forks the TypeScript file `script` as a child process, sends it `input` over IPC, and resolves
 * with the first message it sends back, once the child has exited with code 0.
 * Rejects with a ChildFailed if it exits with another code or is killed by a signal, with an Error
 * if it exits with code 0 without replying, and with an AbortError when `signal` aborts.
 */
export function runChild<Reply>(script: URL, input: Serializable, options: RunOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const child = fork(script, {
      // No stdin; stdout shared with ours; stderr piped so a failure can carry it; the IPC channel.
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      // On abort, fork itself kills the child. SIGKILL, because a child may catch or ignore SIGTERM.
      signal: options.signal,
      killSignal: 'SIGKILL',
    });

    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));

    let replied = false;
    let reply: Reply;
    child.once('message', (message) => {
      replied = true;
      reply = message as Reply;
    });

    // An abort arrives here as an AbortError (the kill is already sent), and so does a failed start.
    // `on`, not `once`: a second 'error' with no listener would be thrown.
    child.on('error', reject);

    // 'close' comes after 'exit' and after stderr has been read to its end. The exit code is the
    // child's verdict: a reply from a child that then failed does not count.
    child.once('close', (code, signal) => {
      if (code !== 0) reject(new ChildFailed(code, signal, stderr));
      else if (!replied) reject(new Error(`The child ${script.pathname} exited with code 0 without sending a reply`));
      else resolve(reply);
    });

    child.send(input);
  });
}

/** Computes 1² + 2² + ... + n² in a child process (./sum-of-squares.child.ts) and resolves with the sum. */
export function sumOfSquaresInChild(n: number, options: RunOptions = {}): Promise<number> {
  // The URL is resolved against this module, so the child file is found wherever the caller is.
  return runChild<number>(new URL('./sum-of-squares.child.ts', import.meta.url), n, options);
}
