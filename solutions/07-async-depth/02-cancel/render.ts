// The renderer a report is built with, run as a child process: it reads a page on stdin and
// prints the report. Given: leave it as it is. A page that mentions "slow" takes 30 s to render.
import { setTimeout as sleep } from 'node:timers/promises';

let page = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) page += chunk;
if (page.includes('slow')) await sleep(30_000);
process.stdout.write(`REPORT (${page.length} characters): ${page.toUpperCase()}`);
