import { fork } from 'node:child_process';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import pLimit from 'p-limit';
import { startLoopbackServer, type LoopbackServer } from '../../kata/testing/loopback-server.ts';
import { crawl, fetchAll } from '../solutions.ts';
import { type Group, type Plan, samples } from '../group.ts';
import type { Case } from '../measure.ts';
import { waitFor, type Wait } from '../workers/wait.ts';

/** One wait on a worker thread started for it. */
async function inWorker(wait: Wait): Promise<string> {
  const worker = new Worker(new URL('../workers/wait.worker.ts', import.meta.url), { workerData: wait });
  try {
    const [answer] = (await once(worker, 'message')) as [string];
    return answer;
  } finally {
    await worker.terminate();
  }
}

/** One wait in a child process started for it. */
async function inChild(wait: Wait): Promise<string> {
  const child = fork(new URL('../workers/wait.child.ts', import.meta.url));
  try {
    child.send(wait);
    const [answer] = (await once(child, 'message')) as [string];
    return answer;
  } finally {
    const exited = once(child, 'exit');
    child.kill();
    await exited;
  }
}

/**
 * I/O-bound work: `count` waits of `ms` each, as timers and as real HTTP requests to a loopback
 * server that answers after `ms`, done by each approach. One wait alone is the yardstick.
 */
export function ioGroup(plan: Plan): Group {
  const count = plan.quick ? 4 : 10;
  const ms = plan.quick ? 20 : 100;
  const bound = Math.max(2, count / 2);
  const indexes = Array.from({ length: count }, (_, i) => i);
  const take = (full: number) => samples(plan, full, 3);
  const warmup = 1;
  const spawnWarmup = plan.quick ? 0 : 1;
  let server: LoopbackServer | undefined;

  const kinds = {
    timer: { title: 'timer', wait: (_: number): Wait => ({ ms }) },
    http: { title: 'HTTP', wait: (i: number): Wait => ({ url: server!.url(`/wait/${i}?delay=${ms}`) }) },
  };
  const cases = (kind: 'timer' | 'http'): Case[] => {
    const { title, wait } = kinds[kind];
    const urls = () => indexes.map((i) => (wait(i) as { url: string }).url);
    return [
      { id: `${kind}-one`, label: `${title}: one wait alone`, unit: 'ms', samples: take(10), warmup, run: () => waitFor(wait(0)) },
      {
        id: `${kind}-sequential`,
        label: `${title}: ${count} awaited one after another`,
        unit: 'ms',
        samples: take(5),
        warmup,
        run: async () => {
          for (const i of indexes) await waitFor(wait(i));
        },
      },
      {
        id: `${kind}-promise-all`,
        label: `${title}: ${count} at once, Promise.all${kind === 'http' ? " (choose's fetchAll)" : ''}`,
        unit: 'ms',
        samples: take(10),
        warmup,
        run: () => (kind === 'http' ? fetchAll(urls()) : Promise.all(indexes.map((i) => waitFor(wait(i))))),
      },
      {
        id: `${kind}-bounded`,
        label: `${title}: ${count}, at most ${bound} at once${kind === 'http' ? " (limit's crawl)" : ' (p-limit)'}`,
        unit: 'ms',
        samples: take(10),
        warmup,
        run: () => {
          if (kind === 'http') return crawl(urls(), { concurrency: bound, timeoutMs: 30_000 });
          const limit = pLimit(bound);
          return Promise.all(indexes.map((i) => limit(() => waitFor(wait(i)))));
        },
      },
      {
        id: `${kind}-workers`,
        label: `${title}: ${count} at once, a new worker thread each`,
        unit: 'ms',
        samples: take(8),
        warmup: spawnWarmup,
        run: () => Promise.all(indexes.map((i) => inWorker(wait(i)))),
      },
      {
        id: `${kind}-processes`,
        label: `${title}: ${count} at once, a new process each`,
        unit: 'ms',
        samples: take(6),
        warmup: spawnWarmup,
        run: () => Promise.all(indexes.map((i) => inChild(wait(i)))),
      },
    ];
  };

  /**
   * A stampede: `count` callers at once for the page of one key. Each its own request, or one
   * request in flight shared by all (single-flight: a Map of promises, forgotten once settled).
   * Each row's note says how many requests reached the server per sample: the cost the server pays.
   */
  const stampede = (shared: boolean): Case => {
    const inFlight = new Map<string, Promise<string>>();
    const load = (key: string) => fetch(server!.url(`/user/${key}?delay=${ms}`)).then((response) => response.text());
    const get = (key: string) => {
      if (!shared) return load(key);
      let call = inFlight.get(key);
      if (call === undefined) inFlight.set(key, (call = load(key).finally(() => inFlight.delete(key))));
      return call;
    };
    const requests: number[] = [];
    return {
      id: shared ? 'http-stampede-single-flight' : 'http-stampede-each',
      label: `HTTP: ${count} callers at once for one page, ${shared ? 'sharing the request in flight (single-flight)' : 'each with its own request'}`,
      unit: 'ms',
      samples: take(10),
      warmup,
      run: async () => {
        const before = server!.total;
        await Promise.all(indexes.map(() => get('ada')));
        requests.push(server!.total - before);
      },
      note: () => `${Math.max(...requests)} request(s) at the server per ${count} callers`,
    };
  };

  return {
    id: 'io',
    title: 'I/O-bound',
    workload: `${count} waits of ${ms} ms: timers, and GETs to a loopback HTTP server that answers after ${ms} ms`,
    cases: [...cases('timer'), ...cases('http'), stampede(false), stampede(true)],
    setup: async () => void (server = await startLoopbackServer()),
    teardown: async () => await server?.close(),
  };
}
