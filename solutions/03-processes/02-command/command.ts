import { execFile, type ExecFileException } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** What a program printed. */
export interface CommandOutput {
  stdout: string;
  stderr: string;
}

/** A program that ran but failed: its exit code (or the signal that killed it) and its output. */
export class CommandFailed extends Error {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;

  constructor(program: string, exitCode: number | null, signal: NodeJS.Signals | null, output: CommandOutput) {
    const how = signal ? `was killed by ${signal}` : `exited with code ${exitCode}`;
    super(`${program} ${how}${output.stderr ? `. Its stderr:\n${output.stderr}` : ''}`);
    this.name = 'CommandFailed';
    this.exitCode = exitCode;
    this.signal = signal;
    this.stdout = output.stdout;
    this.stderr = output.stderr;
  }
}

const execFileAsync = promisify(execFile);

/**
 * Runs `program` with `args` and resolves with what it printed. The args may come from a user:
 * each must reach the program as exactly one argument, unchanged, and nothing in them may run.
 * Rejects with a CommandFailed if the program exits with a code other than 0 (or is killed), and
 * with the error from Node (code 'ENOENT') if the program cannot be started at all.
 */
export async function runCommand(program: string, args: readonly string[]): Promise<CommandOutput> {
  try {
    // execFile starts the program itself, without a shell: `args` become the program's argv as
    // they are, so no character in them (; | $( ) ` * quotes, newlines) means anything. Without
    // maxBuffer it would kill a program that prints more than 1 MiB, and reject.
    return await execFileAsync(program, args, { encoding: 'utf8', maxBuffer: Infinity });
  } catch (error) {
    const failure = error as ExecFileException & CommandOutput;
    // A numeric code (or a signal) means the program ran and failed; a string code such as
    // 'ENOENT' means it never started, and that error is passed on as it is.
    if (typeof failure.code === 'number' || failure.signal) {
      throw new CommandFailed(program, typeof failure.code === 'number' ? failure.code : null, failure.signal ?? null, failure);
    }
    throw error;
  }
}

/** The given search program, search.ts, beside this file: run it with `node`, that is process.execPath. */
export const searchProgram = fileURLToPath(new URL('./search.ts', import.meta.url));

/**
 * The lines of `file` that contain `pattern`, as the search program finds them: in the file's
 * order, without their line endings, [] when no line does. Both come from a user: each must reach
 * search as a PATTERN and a FILE, unchanged, even when it starts with "-", and never as an option.
 */
export async function searchFile(pattern: string, file: string): Promise<string[]> {
  // Most programs read any argument that starts with "-" as an option, wherever it stands, until a
  // lone "--": after it, "--output=x" is a pattern to find, not an order to write the file x.
  const { stdout } = await runCommand(process.execPath, [searchProgram, '--', pattern, file]);
  return stdout === '' ? [] : stdout.replace(/\n$/, '').split('\n');
}
