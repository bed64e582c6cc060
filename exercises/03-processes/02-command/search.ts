// Given: a small search program, in the spirit of grep and ripgrep, for searchFile() to run. You do
// not need to change this file.
//
//   node search.ts [OPTION]... [--] PATTERN [FILE]...
//
// Prints each line that contains PATTERN (plain text, not a regular expression), followed by a
// newline; with no FILE, it searches every file in the current folder. Options:
//
//   -i, --ignore-case    match upper and lower case alike
//   -o FILE, --output=FILE
//                        write the lines to FILE instead of printing them
//   --                   the end of the options: every argument after it is PATTERN or a FILE,
//                        whatever it starts with
//
// Like most command-line programs, it reads every argument that starts with "-" as an option,
// wherever it stands, until it meets a lone "--". An unknown option is an error (exit code 2).
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';

function refuse(problem: string): never {
  process.stderr.write(`search: ${problem}\nUsage: node search.ts [-i] [-o FILE] [--] PATTERN [FILE]...\n`);
  process.exit(2);
}

const operands: string[] = [];
let ignoreCase = false;
let output: string | undefined;
const args = process.argv.slice(2);
for (let index = 0; index < args.length; index += 1) {
  const arg = args[index]!;
  if (arg === '--') {
    operands.push(...args.slice(index + 1));
    break;
  }
  if (arg === '-i' || arg === '--ignore-case') ignoreCase = true;
  else if (arg === '-o') output = args[++index] ?? refuse('-o needs a FILE');
  else if (arg.startsWith('--output=')) output = arg.slice('--output='.length);
  else if (arg.startsWith('-') && arg !== '-') refuse(`unknown option ${arg}`);
  else operands.push(arg);
}

const [pattern, ...named] = operands;
if (pattern === undefined) refuse('no PATTERN given');
const files =
  named.length > 0
    ? named
    : readdirSync('.')
        .filter((name) => statSync(name).isFile())
        .sort();
const wanted = ignoreCase ? pattern.toLowerCase() : pattern;
const found: string[] = [];
for (const file of files) {
  for (const line of readFileSync(file, 'utf8').split(/\r?\n/)) {
    if ((ignoreCase ? line.toLowerCase() : line).includes(wanted) && line !== '') found.push(`${line}\n`);
  }
}
if (output === undefined) process.stdout.write(found.join(''));
else writeFileSync(output, found.join(''));
