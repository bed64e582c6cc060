// A whole program, run in a child process by the tests: it asks countPrimesInWorker() for one
// answer, prints it and has nothing left to do. Node must then exit by itself.
import { targetUrl } from '#kata/inside/target.ts';

// No top-level await (CONTRIBUTING, rule 8: Node crashes if a test stops a worker as its async module starts).
async function main(): Promise<void> {
  const { countPrimesInWorker } = (await import(targetUrl(import.meta.url, './worker.ts').href)) as typeof import('./worker.ts');
  const [from, to] = process.argv.slice(2).map(Number) as [number, number];
  const { count } = await countPrimesInWorker(from, to);
  console.log(`count ${count}`);
}

void main();
