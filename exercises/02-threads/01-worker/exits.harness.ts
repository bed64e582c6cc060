// A whole program, run in a child process by the tests: it asks countPrimesInWorker() for one
// answer, prints it and has nothing left to do. Node must then exit by itself.
import { targetUrl } from '#kata/inside/target.ts';

const { countPrimesInWorker } = (await import(targetUrl(import.meta.url, './worker.ts').href)) as typeof import('./worker.ts');
const [from, to] = process.argv.slice(2).map(Number) as [number, number];
const { count } = await countPrimesInWorker(from, to);
console.log(`count ${count}`);
