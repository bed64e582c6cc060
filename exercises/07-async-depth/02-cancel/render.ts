// The renderer a report is built with, run as a child process: it reads a page on stdin and
// prints the report. Given: leave it as it is. A page that mentions "slow" takes 30 s to render;
// one that mentions "broken" cannot be rendered: it exits with code 3 (quietly: the tests send
// one on purpose, and a message on stderr would only add noise to their output).
import { setTimeout as sleep } from 'node:timers/promises';

let page = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) page += chunk;
if (page.includes('slow')) await sleep(30_000);
if (page.includes('broken')) process.exit(3);
process.stdout.write(`REPORT (${page.length} characters): ${page.toUpperCase()}`);
