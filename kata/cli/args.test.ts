import { describe, expect, test } from 'vitest';
import { decimalNumber, parseCommandLine, UsageError, wholeNumber } from './args.ts';

const lanes = (text: string) => wholeNumber(text, '--lanes', { min: 1, max: 64 });

describe('wholeNumber', () => {
  test.each(['1', '8', '64', '007'])('takes "%s"', (text) => {
    expect(lanes(text)).toBe(Number(text));
  });

  test.each(['-2', '0', '2.5', '1e3', '0x10', '99999999999999999999', '65', 'many', '', ' 3', '+3', 'Infinity', 'NaN'])('refuses "%s" in one line', (text) => {
    expect(() => lanes(text)).toThrow(UsageError);
    expect(() => lanes(text)).toThrow(`--lanes takes a whole number from 1 to 64, not "${text}"`);
  });

  test('a subject and a verb of its own: the hint level', () => {
    expect(() => wholeNumber('-1', 'The hint level of gather', { min: 1, max: 3 }, 'must be')).toThrow(
      'The hint level of gather must be a whole number from 1 to 3, not "-1"',
    );
  });
});

describe('decimalNumber', () => {
  const samples = (text: string) => decimalNumber(text, '--samples', { min: 0.1, max: 10 });
  test.each([
    ['0.5', 0.5],
    ['.25', 0.25],
    ['10', 10],
    ['3.', 3],
  ])('takes "%s"', (text, value) => {
    expect(samples(text)).toBe(value);
  });
  test.each(['1e3', '-1', '0.05', '11', 'abc', '', '1,5'])('refuses "%s"', (text) => {
    expect(() => samples(text)).toThrow(`--samples takes a number from 0.1 to 10, not "${text}"`);
  });
});

describe('parseCommandLine', () => {
  const parse = (args: string[]) =>
    parseCommandLine({
      args,
      options: { runs: { type: 'string', short: 'r' }, hog: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
      allowPositionals: true,
    });

  test('a negative value is the option\'s value, for the tool to judge (not Node\'s "ambiguous")', () => {
    expect(parse(['--runs', '-3']).values.runs).toBe('-3');
    expect(parse(['-r', '-0.5']).values.runs).toBe('-0.5');
  });

  test('a negative positional stays a positional, in its place (not "Unknown option \'-1\'")', () => {
    expect(parse(['hint', 'gather', '-1']).positionals).toEqual(['hint', 'gather', '-1']);
    expect(parse(['-1', '--hog', 'x']).positionals).toEqual(['-1', 'x']);
  });

  test('after -- everything is a positional, as typed', () => {
    expect(parse(['--', '--runs', '-3']).positionals).toEqual(['--runs', '-3']);
  });

  test.each([
    [['--bogus'], "Unknown option '--bogus'"],
    [['--runs'], '--runs needs a value'],
    [['--runs', '--hog'], '--runs needs a value (for a value that starts with a dash: --runs=<value>)'],
    [['--hog=yes'], "Option '--hog' does not take an argument"],
  ])('%j is one line: %s', (args, message) => {
    let thrown: unknown;
    try {
      parse(args);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UsageError);
    expect((thrown as Error).message).toBe(message);
  });

  test('--help and -h', () => {
    expect(parse(['--help']).values.help).toBe(true);
    expect(parse(['-h']).values.help).toBe(true);
  });
});
