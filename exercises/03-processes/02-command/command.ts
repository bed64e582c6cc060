import { fileURLToPath } from 'node:url';

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

/**
 * Runs `program` with `args` and resolves with what it printed. The args may come from a user:
 * each must reach the program as exactly one argument, unchanged, and nothing in them may run.
 * Rejects with a CommandFailed if the program exits with a code other than 0 (or is killed), and
 * with the error from Node (code 'ENOENT') if the program cannot be started at all.
 */
export function runCommand(program: string, args: readonly string[]): Promise<CommandOutput> {
  // TODO: start the program with its arguments, collect its output, and settle when it exits.
  throw new Error('Not implemented yet: runCommand() in exercises/03-processes/02-command/command.ts (see README.md there)');
}

/** The given search program, search.ts, beside this file: run it with `node`, that is process.execPath. */
export const searchProgram = fileURLToPath(new URL('./search.ts', import.meta.url));

/**
 * The lines of `file` that contain `pattern`, as the search program finds them: in the file's
 * order, without their line endings, [] when no line does. Both come from a user: each must reach
 * search as a PATTERN and a FILE, unchanged, even when it starts with "-", and never as an option.
 */
export function searchFile(pattern: string, file: string): Promise<string[]> {
  // TODO: run searchProgram with runCommand, so that pattern and file reach it as text, whatever they start with.
  throw new Error('Not implemented yet: searchFile() in exercises/03-processes/02-command/command.ts (see README.md there)');
}
