import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { isNotImplemented, shownReason, Timeline, valueWithin, within } from '#kata/testing/index.ts';
import { failureWithin } from '#kata/testing/deadline.ts';
import { reapChildren } from '#kata/testing/processes.ts';
import { CommandFailed, runCommand, searchFile, searchProgram } from './command.ts';

// Real programs: this very Node running two tiny scripts (the same on Linux, macOS and Windows).
const node = process.execPath;
const printArgs = fileURLToPath(new URL('./print-args.harness.ts', import.meta.url));
const complain = fileURLToPath(new URL('./complain.harness.ts', import.meta.url));

// Each test runs in a fresh, empty temporary folder (plus one file for `*` to find): an injected
// command leaves its `pwned` file there, not in your project.
const home = process.cwd();
let sandbox: string;
beforeEach(() => {
  sandbox = realpathSync(mkdtempSync(path.join(tmpdir(), 'kata-command-')));
  writeFileSync(path.join(sandbox, 'secret.txt'), 'not for the shell to find\n');
  process.chdir(sandbox);
});
afterEach(async () => {
  process.chdir(home);
  rmSync(sandbox, { recursive: true, force: true });
  const left = await reapChildren(2_000);
  expect(
    left.map((child) => child.pid),
    `${left.length} program(s) still ran 2 s after the test (killed now).`,
  ).toEqual([]);
});

/** What print-args printed, read from runCommand's result. */
function printedBy(output: unknown): { args: string[]; pid: number } {
  try {
    return JSON.parse((output as { stdout: string }).stdout) as { args: string[]; pid: number };
  } catch {
    throw new Error(`runCommand resolved with ${shownReason(output)}; expected { stdout, stderr } holding what the program printed.`);
  }
}

/** Runs print-args with `args` through runCommand, on `timeline`, and returns the args it received. */
async function argsReceived(timeline: Timeline, label: string, args: string[]): Promise<string[]> {
  const running = runCommand(node, [printArgs, ...args]);
  const end = timeline.begin(label);
  const output = await valueWithin(
    5_000,
    running,
    `runCommand never settled for a program that prints its arguments and exits`,
    (reason) =>
      `runCommand(node, ${shownReason(['print-args.harness.ts', ...args])}) rejected with ${shownReason(reason)}, where the test expected ` +
      'what the program printed: print-args prints the arguments it received and exits with code 0.',
  );
  const span = end();
  const printed = printedBy(output);
  span.pid = printed.pid;
  return printed.args;
}

describe('runCommand', () => {
  test('hands each argument to the program as one argument, exactly as given', async () => {
    const timeline = new Timeline();
    const args = ['hello', 'two words', '', 'tab\there', 'ünïcödé'];
    const received = await argsReceived(timeline, 'print-args', args);
    expect(
      received,
      `The program received ${shownReason(received)} for the arguments ${shownReason(args)}. Something split or dropped them on ` +
        'the way: a shell splits a command line at spaces and drops empty words. Give the program an array of ' +
        'arguments, without a shell in between.',
    ).toEqual(args);
  });

  // Inputs an attacker would type, and what a shell would make of each.
  const hostile: Array<[string, string]> = [
    ['x; touch pwned', '; ends one command and starts the next'],
    ['$(touch pwned)', '$( ) runs a command and pastes its output in'],
    ['`touch pwned`', 'backquotes run a command and paste its output in'],
    ['x && touch pwned', '&& runs a second command'],
    ['x | touch pwned', '| starts a second command'],
    ['x > pwned', '> writes a file'],
    ['line one\ntouch pwned', 'a newline ends one command and starts the next'],
    ["it's; touch pwned; echo 'ok", 'its quotes end the quotes put around it'],
    ['"; touch pwned; echo "', 'its quotes end the quotes put around it'],
    ['*', '* becomes the names of the files in the folder'],
    ['$HOME', '$NAME becomes the value of a variable'],
  ];

  test.each(hostile)('passes %j through as one plain argument, and runs nothing', async (input, shellReading) => {
    const timeline = new Timeline();
    const running = runCommand(node, [printArgs, input]);
    const end = timeline.begin('print-args');
    const outcome = await within(5_000, running, `runCommand never settled for the argument ${shownReason(input)}`).then(
      (output) => ({ output }),
      (error: unknown) => {
        if (isNotImplemented(error)) throw error;
        return { error };
      },
    );
    end();

    const injected = existsSync(path.join(sandbox, 'pwned')) || existsSync(path.join(home, 'pwned'));
    rmSync(path.join(home, 'pwned'), { force: true });
    const quoted = /['"]/.test(input) ? ' Wrapping the input in quotes yourself does not save you: a quote in the input ends your quoting.' : '';
    expect(
      injected,
      `SHELL INJECTION: the argument ${shownReason(input)} ran a command of its own (a file "pwned" appeared in the working ` +
        `folder). A shell read the input as code, where ${shellReading}. That is what exec, or spawn/execFile with ` +
        '`shell: true`, do with a command line built from input. Pass the input as an element of an argument array ' +
        `to execFile or spawn, with no shell: then no character in it means anything.${quoted} (OWASP: OS command injection.)`,
    ).toBe(false);

    expect(
      'error' in outcome ? shownReason(outcome.error) : 'no error',
      `runCommand failed for the argument ${shownReason(input)}, which the program should simply have printed. Most likely a ` +
        `shell parsed it, and ${shellReading}.${quoted} Pass arguments as an array, with no shell.`,
    ).toBe('no error');
    const printed = printedBy((outcome as { output: unknown }).output);
    timeline.spans[0]!.pid = printed.pid;
    expect(
      printed.args,
      `The program received ${shownReason(printed.args)} instead of the one argument ${shownReason(input)}. A shell rewrites it ` +
        `(${shellReading}); so does any splitting or trimming of the input on its way.${quoted} Pass each argument as one ` +
        'element of an array, unchanged, with no shell.',
    ).toEqual([input]);
  });

  test('resolves with what the program printed on stdout and stderr', async () => {
    const output = await valueWithin(
      5_000,
      runCommand(node, [complain, '0']),
      'runCommand never settled for a program that exits with code 0',
      (reason) =>
        `runCommand(node, ["complain.harness.ts", "0"]) rejected with ${shownReason(reason)}, where the test expected { stdout, stderr }: ` +
        'that program prints a line on stdout and one on stderr, then exits with code 0. Output on stderr is no failure; ' +
        'the exit code says whether the program failed.',
    );
    expect(output?.stdout, 'stdout should hold exactly what the program printed there').toBe('a line on stdout\n');
    expect(output?.stderr, 'stderr should hold what the program printed there').toContain('cannot open "report.csv"');
  });

  test('a non-zero exit code becomes a CommandFailed carrying the code and stderr', async () => {
    const error = await failureWithin(5_000, () => runCommand(node, [complain, '4']), {
      hung: 'runCommand never settled for a program that exits with code 4',
      resolved:
        'runCommand resolved although the program exited with code 4. An exit code other than 0 is how a program ' +
        'says it failed: reject with a CommandFailed.',
    });
    expect(error, `runCommand rejected, but with ${shownReason(error)} instead of a CommandFailed.`).toBeInstanceOf(CommandFailed);
    const failed = error as CommandFailed;
    expect(failed.exitCode, 'The CommandFailed should carry the program’s exit code.').toBe(4);
    expect(failed.stderr, 'The CommandFailed should carry what the program wrote to stderr: that is where it says why.').toContain('cannot open "report.csv"');
    expect(
      failed.stdout,
      'The CommandFailed should carry what the program wrote to stdout too ("a line on stdout\\n"): a failed program’s ' +
        `output is part of its verdict. It carried ${shownReason(failed.stdout)}.`,
    ).toBe('a line on stdout\n');
  });

  // A program that kills itself with the signal: it ends with no exit code at all (null).
  test.skipIf(process.platform === 'win32').each(['SIGKILL', 'SIGTERM'])(
    'a program killed by %s becomes a CommandFailed carrying the signal',
    async (signal) => {
      const error = await failureWithin(5_000, () => runCommand(node, ['-e', `process.kill(process.pid, '${signal}')`]), {
        hung: `runCommand never settled for a program that is killed by ${signal}`,
        resolved:
          `runCommand resolved although the program was killed by ${signal}. A killed program has exit code null and ` +
          'a signal: `if (code)` or `code > 0` treats null as success. Only exit code 0 is success.',
      });
      expect(error, `runCommand rejected, but with ${shownReason(error)} instead of a CommandFailed.`).toBeInstanceOf(CommandFailed);
      const failed = error as CommandFailed;
      expect(
        { exitCode: failed.exitCode, signal: failed.signal },
        `The CommandFailed should carry the signal that killed the program (${signal}) and exit code null.`,
      ).toEqual({ exitCode: null, signal });
    },
  );

  test('brings long output back whole, with no character split between chunks', async () => {
    // 500,000 euro signs: 1.5 MB of UTF-8, three bytes to a character, read through the pipe in
    // chunks whose edges fall inside characters; more than the 1 MiB that execFile and exec
    // collect by default (their maxBuffer).
    const text = '€'.repeat(500_000);
    const printing = runCommand(node, ['-e', "process.stdout.write('€'.repeat(500000))"]);
    const output = await valueWithin(
      10_000,
      printing,
      'runCommand never settled for a program that prints 1.5 MB and exits',
      (reason) =>
        `runCommand rejected with ${shownReason(reason)} for a program that printed 1.5 MB and exited with code 0: ` +
        'it must resolve with all of it. execFile and exec stop a program that prints more than their maxBuffer (1 MiB by default); ' +
        'spawn has no such limit.',
    );
    const stdout = String(output?.stdout);
    const replaced = [...stdout].filter((character) => character === '\uFFFD').length;
    expect(
      stdout === text,
      `The program printed 500,000 "€" (1,500,000 bytes); runCommand resolved with ${stdout.length} characters. ` +
        (replaced > 0
          ? `${replaced} of them are U+FFFD, the replacement character: each chunk was decoded on its own, so a "€" whose ` +
            'three bytes straddled two chunks was decoded in halves. Set the stream’s encoding (setEncoding), or join ' +
            'the Buffers before decoding them.'
          : 'Part of the output was lost or changed: read until the "close" event (after "exit", the pipe may still hold ' +
            'output), and decode the bytes as UTF-8.'),
    ).toBe(true);
  });

  test('brings long stderr back whole, with no character split between chunks', async () => {
    // The same 1.5 MB of "€" as above, written to stderr, by a program that then exits with code 0:
    // stderr is text too, read through its own pipe in chunks whose edges fall inside characters.
    const text = '€'.repeat(500_000);
    const printing = runCommand(node, ['-e', "process.stderr.write('€'.repeat(500000))"]);
    const output = await valueWithin(
      10_000,
      printing,
      'runCommand never settled for a program that writes 1.5 MB to stderr and exits',
      (reason) =>
        `runCommand rejected with ${shownReason(reason)} for a program that wrote 1.5 MB to stderr and exited with code 0: ` +
        'it must resolve with { stdout, stderr }, all of stderr included. Output on stderr is no failure, however long; ' +
        'execFile and exec stop a program whose stderr passes their maxBuffer (1 MiB by default) too.',
    );
    const stderr = String(output?.stderr);
    const replaced = [...stderr].filter((character) => character === '\uFFFD').length;
    expect(
      stderr === text,
      `The program wrote 500,000 "€" (1,500,000 bytes) to stderr; runCommand resolved with ${stderr.length} characters of stderr. ` +
        (replaced > 0
          ? `${replaced} of them are U+FFFD, the replacement character: stderr's chunks were decoded one at a time, so a "€" ` +
            'cut between two chunks of stderr came back as replacement characters. Decode stderr as one stream, like ' +
            'stdout: set its encoding too, or join its Buffers before decoding them.'
          : 'Part of stderr was lost or changed: collect all of it until the "close" event, and decode it as UTF-8.'),
    ).toBe(true);
  });

  test('brings 24 MiB of output back whole: no fixed limit on what a program may print', async () => {
    // 25,165,824 "x": 24 MiB of plain ASCII, far past the 1 MiB that execFile and exec collect by
    // default, and past the larger round limits one might raise it to (10 MiB, 16 MiB).
    const size = 24 * 1024 * 1024;
    const printing = runCommand(node, ['-e', "process.stdout.write('x'.repeat(25165824))"]);
    const output = await valueWithin(
      15_000,
      printing,
      'runCommand never settled for a program that prints 24 MiB and exits',
      (reason) =>
        `runCommand rejected with ${shownReason(reason)} for a program that printed 24 MiB (25,165,824 bytes) and exited with code 0: ` +
        'it resolves with what the program printed, however much. ' +
        ((reason as NodeJS.ErrnoException)?.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER'
          ? 'A maxBuffer stopped it: any fixed number there is a size of output that runCommand cannot return. Lift the limit ' +
            '(Infinity), or collect the output yourself from spawn.'
          : 'Collect all of stdout until the program has exited, whatever its size.'),
    );
    const stdout = String(output?.stdout);
    expect(
      stdout === 'x'.repeat(size),
      `The program printed 25,165,824 "x" (24 MiB) and exited with code 0; runCommand resolved with ${stdout.length.toLocaleString('en')} ` +
        'characters of stdout. Every byte it printed must come back: read until the "close" event, and put no cap on what you keep.',
    ).toBe(true);
  });

  test('a program that does not exist is an ENOENT error, not a hang', async () => {
    const error = await failureWithin(5_000, () => runCommand('kata-no-such-program', ['--version']), {
      hung: 'runCommand never settled for a program that does not exist: listen for the "error" event',
      resolved: 'runCommand resolved although the program does not exist.',
    });
    const code = (error as NodeJS.ErrnoException)?.code;
    expect(
      code,
      `Expected Node's own error with code "ENOENT" (the program was not found), got ${shownReason(error)}` +
        (error instanceof CommandFailed && error.exitCode === 127
          ? ': a shell answered with exit code 127, its "command not found". With no shell, Node reports ENOENT itself.'
          : '.'),
    ).toBe('ENOENT');
  });

  // A file that is there but may not be run: the system refuses to start it (EACCES), so no program
  // runs, exits or is killed. It lives in the test's temporary folder, which afterEach removes.
  test.skipIf(process.platform === 'win32')('a program that cannot be started for another reason (no execute permission) is Node’s own error', async () => {
    const notExecutable = path.join(sandbox, 'not-executable.sh');
    writeFileSync(notExecutable, '#!/bin/sh\necho started\n', { mode: 0o644 });
    chmodSync(notExecutable, 0o644);
    const error = await failureWithin(5_000, () => runCommand(notExecutable, []), {
      hung: 'runCommand never settled for a file without execute permission, which the system refuses to start: listen for the "error" event',
      resolved: 'runCommand resolved for a file without execute permission: the system refused to start it, so nothing ran.',
    });
    const code = (error as NodeJS.ErrnoException)?.code;
    expect(
      code,
      `runCommand rejected with ${shownReason(error)} for a file without execute permission; expected Node's own error, with code "EACCES"` +
        (error instanceof CommandFailed
          ? `. That CommandFailed (exit code ${error.exitCode}, signal ${error.signal}) says a program ran and failed, but this one ` +
            'never started: Node refused to start it, and its error (code "EACCES") was turned into a CommandFailed. ENOENT is not the only ' +
            'way a program cannot start: pass Node’s error on as it is whenever the program did not run at all.'
          : '.'),
    ).toBe('EACCES');
  });
});

// searchFile runs the given search program with argv-spy.harness.ts preloaded into it: the tests see
// the arguments search received, and can say how it read them.
const argvSpy = fileURLToPath(new URL('./argv-spy.harness.ts', import.meta.url));
const notes = [
  'apple pie',
  'write --output=pwned to make search write a file',
  'set output=pwned in the config',
  'the -i option ignores case',
  'Apple crumble',
];

interface Searched {
  outcome: { lines: unknown } | { error: unknown };
  /** The arguments of each search program searchFile started, in order. */
  received: string[][];
}

/** Calls searchFile in the test's folder, where notes.txt holds `notes`, watching what search receives. */
async function searched(pattern: string, file: string): Promise<Searched> {
  writeFileSync(path.join(sandbox, 'notes.txt'), `${notes.join('\n')}\n`);
  const log = `${sandbox}.argv.jsonl`;
  const saved = { NODE_OPTIONS: process.env.NODE_OPTIONS, KATA_ARGV_LOG: process.env.KATA_ARGV_LOG };
  process.env.NODE_OPTIONS = `${saved.NODE_OPTIONS ?? ''} --import ${JSON.stringify(argvSpy)}`;
  process.env.KATA_ARGV_LOG = log;
  try {
    // A refusal thrown at once counts as a rejection: the tests judge what reached the program.
    const searching = new Promise((resolve) => resolve(searchFile(pattern, file)));
    const outcome = await within(5_000, searching, `searchFile(${shownReason(pattern)}, ${shownReason(file)}) never settled`).then(
      (lines) => ({ lines }),
      (error: unknown) => {
        if (isNotImplemented(error)) throw error;
        return { error };
      },
    );
    const started = existsSync(log)
      ? readFileSync(log, 'utf8')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as { script?: string; args: string[] })
      : [];
    const received = started.filter((run) => run.script !== undefined && path.basename(run.script) === path.basename(searchProgram)).map((run) => run.args);
    return { outcome, received };
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    rmSync(log, { force: true });
  }
}

/**
 * What search made of an input, from the arguments it received: an operand (after "--", or not
 * starting with "-"), an option, or nothing (not there unchanged). A FILE counts as there when an
 * operand names the same file.
 */
function readingOf(args: string[], input: string, kind: 'PATTERN' | 'FILE'): 'operand' | 'option' | 'missing' {
  const end = args.indexOf('--');
  const same = (arg: string) => (kind === 'FILE' ? path.resolve(sandbox, arg) === path.resolve(sandbox, input) : arg === input);
  const asOption = (arg: string, index: number) => (end < 0 || index < end) && arg.startsWith('-') && arg !== '-' && arg !== '--';
  if (args.some((arg, index) => same(arg) && !asOption(arg, index))) return 'operand';
  return args.some((arg, index) => same(arg) && asOption(arg, index)) ? 'option' : 'missing';
}

/** Fails, naming what search received and how it read it, unless searchFile found `expected`. */
function expectFound({ outcome, received }: Searched, pattern: string, file: string, expected: string[], note = ''): void {
  const call = `searchFile(${shownReason(pattern)}, ${shownReason(file)})`;
  const args = received.at(-1);
  const wrote = existsSync(path.join(sandbox, 'pwned'));
  const asOptions =
    args === undefined
      ? []
      : (
          [
            [pattern, 'PATTERN'],
            [file, 'FILE'],
          ] as const
        ).filter(([input, kind]) => readingOf(args, input, kind) === 'option');
  const optionNote = asOptions.map(([input]) => `${shownReason(input)} stood before any "--", so search read it as an option, not as data.`).join(' ');
  const fix =
    'Put "--" before the user\'s inputs: search, like most programs, reads every argument that starts with "-" as an option until it meets a lone "--".';
  expect(
    wrote,
    `OPTION INJECTION: ${call} made search write a file named "pwned". It received ${shownReason(args)}: ${optionNote} ` +
      `"--output=pwned" told it where to write what it found. No shell was involved: the program's own options did it. ${fix} ` +
      '(OWASP: argument injection.)',
  ).toBe(false);
  if ('error' in outcome) {
    expect.fail(
      args === undefined
        ? `${call} rejected with ${shownReason(outcome.error)} without starting search. search supports "--", so a PATTERN or FILE that ` +
            'starts with "-" is safe to pass: put "--" before the inputs rather than refusing them.'
        : `${call} rejected with ${shownReason(outcome.error)}. search received ${shownReason(args)}. ${optionNote || 'Run search with "--" and then the PATTERN and the FILE, as they are.'}${optionNote ? ` ${fix}` : ''}`,
    );
  }
  expect(args, `${call} resolved without starting search: run searchProgram with runCommand.`).toBeDefined();
  expect(
    asOptions.map(([input]) => input),
    `${call}: search received ${shownReason(args)}. ${optionNote} ${fix}`,
  ).toEqual([]);
  for (const [input, kind] of [
    [pattern, 'PATTERN'],
    [file, 'FILE'],
  ] as const) {
    expect(
      readingOf(args!, input, kind),
      `${call}: search received ${shownReason(args)}, where ${shownReason(input)} is not there as it was given: the ${kind} reached the program changed ` +
        '(dashes taken off? quotes added?). Pass it unchanged, after "--": then nothing in it is an option.',
    ).toBe('operand');
  }
  const printed = execFileSync(process.execPath, [searchProgram, ...args!], { encoding: 'utf8' });
  expect(
    (outcome as { lines: unknown }).lines,
    `${call} resolved with ${shownReason((outcome as { lines: unknown }).lines)}. search was run well and printed ${shownReason(printed)}: ` +
      `resolve with those lines, each without its newline, and [] when it printed nothing.${note}`,
  ).toEqual(expected);
}

describe('searchFile', () => {
  test('resolves with the lines that contain the pattern, in order, without their newlines', async () => {
    expectFound(await searched('pwned', 'notes.txt'), 'pwned', 'notes.txt', [notes[1]!, notes[2]!]);
  });

  test('resolves with [] when no line contains the pattern', async () => {
    expectFound(await searched('pear', 'notes.txt'), 'pear', 'notes.txt', []);
  });

  // Patterns that search would obey as options, if they reached it as options.
  test.each([
    ['--output=pwned', [notes[1]!]],
    ['-i', [notes[3]!]],
    ['--version', []],
  ])('searches for the pattern %j as text, never as an option', async (pattern, expected) => {
    expectFound(await searched(pattern, 'notes.txt'), pattern, 'notes.txt', expected);
  });

  test('keeps each line as search printed it, spaces and tabs at its ends included', async () => {
    // The first and the last line found start and end with white space: trimming the output
    // before splitting it takes theirs away.
    const lines = ['  pear tree  ', 'apple', '\tpear jam\t'];
    writeFileSync(path.join(sandbox, 'spaced.txt'), `${lines.join('\n')}\n`);
    expectFound(await searched('pear', 'spaced.txt'), 'pear', 'spaced.txt', [lines[0]!, lines[2]!]);
  });

  test('keeps a found line made only of spaces and tabs, as search printed it', async () => {
    // search prints every line that contains the pattern and is not empty: with the pattern " ", a
    // line of blanks is a line it found, like any other.
    const lines = ['a b', '   ', 'ab', ' \t ', '', 'c d'];
    writeFileSync(path.join(sandbox, 'blanks.txt'), `${lines.join('\n')}\n`);
    const result = await searched(' ', 'blanks.txt');
    const expected = ['a b', '   ', ' \t ', 'c d'];
    const resolved = 'lines' in result.outcome && Array.isArray(result.outcome.lines) ? (result.outcome.lines as unknown[]) : undefined;
    const lost = resolved === undefined ? [] : expected.filter((line) => line.trim() === '' && !resolved.includes(line));
    expectFound(
      result,
      ' ',
      'blanks.txt',
      expected,
      lost.length > 0
        ? ` Missing or changed: ${shownReason(lost)}, found lines made only of spaces and tabs. They contain the pattern " ", so search ` +
            'printed them: a blank-looking line is still a line found. The only piece of the output that is no line is the empty one after the last newline.'
        : '',
    );
  });

  test('rejects with search’s CommandFailed when the file does not exist', async () => {
    const { outcome, received } = await searched('apple', 'missing.txt');
    // What search does with that file, run here directly: it fails, with an exit code and a reason on stderr.
    const direct = spawnSync(process.execPath, [searchProgram, '--', 'apple', 'missing.txt'], { encoding: 'utf8' });
    const said = `search exits with code ${direct.status} for it and writes ${shownReason(direct.stderr.split('\n').find((line) => line.includes('ENOENT')) ?? direct.stderr)} to stderr`;
    if (!('error' in outcome)) {
      expect.fail(
        `searchFile("apple", "missing.txt") resolved with ${shownReason(outcome.lines)} for a file that does not exist` +
          (received.length > 0
            ? `: ${said}. search failed; it never said that no line matched. [] means search read the file and found nothing: let a ` +
              'failure of search through as the CommandFailed runCommand rejects with, with its exit code and stderr.'
            : ', without starting search: run searchProgram with runCommand, and let its failure through.'),
      );
    }
    const error = outcome.error;
    expect(
      error,
      `searchFile("apple", "missing.txt") rejected with ${shownReason(error)}; ${said}, which runCommand turns into a CommandFailed. ` +
        'Reject with that CommandFailed, as it is.',
    ).toBeInstanceOf(CommandFailed);
    const failed = error as CommandFailed;
    expect(
      { exitCode: failed.exitCode, stderrSaysWhy: failed.stderr.includes('ENOENT') },
      `searchFile("apple", "missing.txt") rejected with a CommandFailed with exit code ${failed.exitCode} and stderr ${shownReason(failed.stderr)}; ` +
        `${said}: the CommandFailed should carry search's own exit code and stderr.`,
    ).toEqual({ exitCode: direct.status, stderrSaysWhy: true });
  });

  test.each(['-i', '--output=pwned'])('reads the file named %j as a file, never as an option', async (file) => {
    writeFileSync(path.join(sandbox, file), 'apple tart\n');
    expectFound(await searched('apple', file), 'apple', file, ['apple tart']);
  });
});
