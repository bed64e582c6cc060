// A real program for the tests to run: it writes a line to stdout and one to stderr, then exits
// with the code given as its first argument.
process.stdout.write('a line on stdout\n');
process.stderr.write(`cannot open "report.csv": no such file (exit code ${process.argv[2]})\n`);
process.exitCode = Number(process.argv[2]);
