// A real program for the tests to run: it prints the arguments it received, as JSON, and its pid.
process.stdout.write(JSON.stringify({ args: process.argv.slice(2), pid: process.pid }));
