/**
 * Command lines of the kata's tools (kata, verify, stress, bench), read one way: a mistake gets
 * one line saying what was wrong and what is expected, then the tool's usage, exit code 2, and
 * never a stack trace.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake in the command line: the tool prints the message and its usage, and exits with 2. */
export class UsageError extends Error {}

type Config = Omit<ParseArgsConfig, 'args'> & { args: string[] };

// -3, -0.5, -.5: no tool has a digit as a short option, so these are always numbers (values).
const negativeNumber = /^-\.?\d/;
// parseArgs reads a positional "-1" as the option "-1": such a number goes in disguised and comes out as typed.
const disguise = '\u0000';

/** parseArgs, with negative numbers read as values, and its errors as one-line UsageErrors. */
export function parseCommandLine<T extends Config>(config: T): ReturnType<typeof parseArgs<T>> {
  const options = config.options ?? {};
  const takesValue = (arg: string | undefined) => {
    if (arg === undefined || arg.includes('=')) return undefined;
    const name = arg.startsWith('--') ? arg.slice(2) : Object.keys(options).find((key) => arg.length === 2 && options[key]!.short === arg[1]);
    return name !== undefined && options[name]?.type === 'string' ? name : undefined;
  };
  const args: string[] = [];
  let afterDashes = false;
  for (const arg of config.args) {
    const option = afterDashes ? undefined : takesValue(args.at(-1));
    if (arg === '--') afterDashes = true;
    // "--runs -3" would be "ambiguous" to parseArgs: it is the value -3, to be judged by the tool.
    if (!afterDashes && negativeNumber.test(arg) && option !== undefined) args[args.length - 1] = `--${option}=${arg}`;
    else if (!afterDashes && negativeNumber.test(arg)) args.push(`${disguise}${arg}`);
    else args.push(arg);
  }
  let parsed: ReturnType<typeof parseArgs<T>>;
  try {
    parsed = parseArgs({ ...config, args });
  } catch (error) {
    throw new UsageError(oneLine((error as Error).message));
  }
  const positionals = parsed.positionals.map((arg) => (arg.startsWith(disguise) ? arg.slice(disguise.length) : arg));
  return { ...parsed, positionals } as ReturnType<typeof parseArgs<T>>;
}

/** Node's message, cut to what was wrong (the rest explains `--`, which nobody asked about). */
function oneLine(message: string): string {
  const first = message.split('\n')[0]!;
  // Node names an option with a short form as '-r, --runs <value>': the long name is the one to show.
  const missing = /^Option '(?:-\w, )?(-[^' ]+)(?: <value>)?' argument missing/.exec(first);
  if (missing) return `${missing[1]} needs a value`;
  const ambiguous = /^Option '(?:-\w, )?(-[^' ]+)' argument is ambiguous/.exec(first);
  if (ambiguous) return `${ambiguous[1]} needs a value (for a value that starts with a dash: ${ambiguous[1]}=<value>)`;
  return first.split(/\. (?=[A-Z])/)[0]!.replace(/\.$/, '');
}

export interface Range {
  min: number;
  max: number;
}

/**
 * `text` as a whole number from `min` to `max`. Anything else (-2, 0.5, 1e3, 0x10, "many", a
 * number too big) is a UsageError: `--lanes takes a whole number from 1 to 64, not "1e3"`.
 */
export function wholeNumber(text: string, name: string, { min, max }: Range, verb = 'takes'): number {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (value >= min && value <= max) return value;
  throw new UsageError(`${name} ${verb} a whole number from ${min} to ${max}, not "${text}"`);
}

/** `text` as a plain decimal number (0.5, 2, .25) from `min` to `max`; no sign, no exponent. */
export function decimalNumber(text: string, name: string, { min, max }: Range, verb = 'takes'): number {
  const value = /^(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : Number.NaN;
  if (value >= min && value <= max) return value;
  throw new UsageError(`${name} ${verb} a number from ${min} to ${max}, not "${text}"`);
}

/** For a tool's top level: a UsageError is printed with the usage and ends the process with 2; anything else is thrown on. */
export function exitOnUsageError(error: unknown, usage: string, prefix = ''): never {
  if (!(error instanceof UsageError)) throw error;
  console.error(`${prefix}${error.message}\n${usage}`);
  process.exit(2);
}
