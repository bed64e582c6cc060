import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { ProcessPool, createPool, type SquaresPool, jobsChild } from '../solutions.ts';
import { type Group, type Plan, samples } from '../group.ts';
import { type Case, type OnSample, type Row, statsOf } from '../measure.ts';
import { ARRIVED, CELLS, COUNTER, type IncrementKind } from '../workers/increment.ts';

const echoWorker = new URL('../workers/echo.worker.ts', import.meta.url);
const echoChild = new URL('../workers/echo.child.ts', import.meta.url);

async function startWorker(): Promise<Worker> {
  const worker = new Worker(echoWorker);
  await once(worker, 'message');
  return worker;
}

async function startChild(): Promise<ChildProcess> {
  const child = fork(echoChild);
  await once(child, 'message');
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill();
  await exited;
}

/** Sends `message` and resolves with the next message back. */
function roundTrip(port: Worker | ChildProcess, message: string): Promise<unknown> {
  return new Promise((resolve) => {
    port.once('message', resolve);
    if (port instanceof Worker) port.postMessage(message);
    else port.send(message);
  });
}

/** `threads` warm workers that add 1 to one shared counter, `count` times each, in the way `kind` says. */
function incrementCase(kind: IncrementKind, threads: number, count: number, plan: Plan): Case {
  const shared = new SharedArrayBuffer(CELLS * Int32Array.BYTES_PER_ELEMENT);
  const cells = new Int32Array(shared);
  let workers: Worker[] = [];
  let generation = 0;
  const lostShares: number[] = [];
  const labels: Record<IncrementKind, string> = { plain: 'plain ++ (a race)', atomic: 'Atomics.add', mutex: "the kata's Mutex around ++" };
  return {
    id: `increment-${kind}-${threads}`,
    label: `${labels[kind]}, ${threads} thread${threads === 1 ? '' : 's'}`,
    unit: 'ns',
    perSample: threads * count,
    samples: samples(plan, 10, 3),
    warmup: plan.quick ? 1 : 2,
    setup: () => {
      const url = new URL('../workers/increment.worker.ts', import.meta.url);
      workers = Array.from({ length: threads }, () => new Worker(url, { workerData: { shared, kind, threads } }));
    },
    run: async () => {
      Atomics.store(cells, COUNTER, 0);
      Atomics.store(cells, ARRIVED, 0);
      generation += 1;
      const reports = workers.map((worker) => once(worker, 'message') as Promise<[{ startedAt: number; endedAt: number }]>);
      for (const worker of workers) worker.postMessage({ count, generation });
      const spans = (await Promise.all(reports)).map(([span]) => span);
      lostShares.push(1 - Atomics.load(cells, COUNTER) / (threads * count));
      // The threads' own clocks, from the first start to the last end: no message latency inside.
      return { overriddenDuration: Math.max(...spans.map((s) => s.endedAt)) - Math.min(...spans.map((s) => s.startedAt)) };
    },
    teardown: async () => void (await Promise.all(workers.map((worker) => worker.terminate()))),
    note: () => {
      const lost = statsOf(lostShares).median;
      return lost > 0 ? `lost ${(lost * 100).toFixed(lost < 0.01 ? 2 : 0)}% of the updates (median)` : undefined;
    },
  };
}

/** What concurrency costs: start-up, a message there and back, memory, and one shared increment. */
export function costsGroup(plan: Plan): Group {
  const take = (full: number, quick = 3) => samples(plan, full, quick);
  const idleWorkers = plan.quick ? 4 : 8;
  const memoryTrials = plan.quick ? 3 : 5;
  let echo: Worker | undefined;
  let child: ChildProcess | undefined;
  let piscina: SquaresPool | undefined;
  let processPool: ProcessPool | undefined;
  const scale = plan.quick ? 0.1 : 1;
  const streamItems = plan.quick ? 10_000 : 100_000;

  return {
    id: 'costs',
    title: 'Costs',
    workload: 'what each mechanism costs before any work: start-up, a message there and back, memory, one shared increment',
    cases: [
      {
        id: 'worker-startup',
        label: 'worker thread start-up (new Worker to its first message)',
        unit: 'ms',
        samples: take(20, 5),
        warmup: 2,
        run: async () => {
          const started = performance.now();
          const worker = await startWorker();
          const took = performance.now() - started;
          await worker.terminate();
          return { overriddenDuration: took };
        },
      },
      {
        id: 'fork-startup',
        label: 'child process start-up (fork to its first message)',
        unit: 'ms',
        samples: take(12, 3),
        warmup: plan.quick ? 0 : 1,
        run: async () => {
          const started = performance.now();
          const forked = await startChild();
          const took = performance.now() - started;
          await stopChild(forked);
          return { overriddenDuration: took };
        },
      },
      {
        id: 'worker-round-trip',
        label: 'message to a warm worker and back',
        unit: 'µs',
        samples: take(2000, 200),
        warmup: 200,
        setup: async () => void (echo = await startWorker()),
        run: () => roundTrip(echo!, 'ping'),
        teardown: async () => void (await echo?.terminate()),
      },
      {
        id: 'child-round-trip',
        label: 'IPC message to a warm child process and back',
        unit: 'µs',
        samples: take(1000, 200),
        warmup: 100,
        setup: async () => void (child = await startChild()),
        run: () => roundTrip(child!, 'ping'),
        teardown: () => child && stopChild(child),
      },
      {
        id: 'piscina-task',
        label: 'trivial task on a warm piscina pool (1 thread)',
        unit: 'µs',
        samples: take(1000, 200),
        warmup: 100,
        setup: () => void (piscina = createPool({ threads: 1 })),
        run: () => piscina!.run({ n: 1 }),
        teardown: () => piscina?.close(),
      },
      {
        id: 'process-pool-task',
        label: 'trivial task on a warm process pool (1 child)',
        unit: 'µs',
        samples: take(1000, 200),
        warmup: 100,
        setup: () => void (processPool = new ProcessPool(jobsChild, 1)),
        run: () => processPool!.run({ workload: 'crunch', input: 1 }),
        teardown: () => processPool?.close(),
      },
      ...(['plain', 'atomic', 'mutex'] as const).flatMap((kind) => {
        // Enough increments that both threads really overlap (they wake ~1 ms apart) and collide.
        const count = { plain: 5e7, atomic: 1e7, mutex: 2e6 }[kind] * scale;
        return [incrementCase(kind, 1, count, plan), incrementCase(kind, 2, count, plan)];
      }),
    ],
    extraRows: async (onSample) => [
      await idleWorkerMemory(idleWorkers, memoryTrials, onSample),
      await childMemory(memoryTrials, onSample),
      await streamMemory('pipeline', streamItems, memoryTrials, onSample),
      await streamMemory('collected', streamItems, memoryTrials, onSample),
    ],
    extraSamples: memoryTrials * 4,
  };
}

/** RSS this process gains per idle worker thread: `count` started together, averaged. */
async function idleWorkerMemory(count: number, trials: number, onSample: OnSample): Promise<Row> {
  const label = 'memory of an idle worker thread (RSS delta)';
  const perWorker: number[] = [];
  for (let trial = 0; trial < trials; trial++) {
    onSample(label, trial + 1, trials, false);
    await sleep(100);
    const before = process.memoryUsage().rss;
    const workers = await Promise.all(Array.from({ length: count }, startWorker));
    await sleep(100);
    perWorker.push((process.memoryUsage().rss - before) / count / 2 ** 20);
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
  return { id: 'worker-memory', label, unit: 'MB', stats: statsOf(perWorker), note: `${count} idle workers started together, per worker` };
}

/** RSS of an idle child process: what the machine gains per child (the parent does not change). */
async function childMemory(trials: number, onSample: OnSample): Promise<Row> {
  const label = 'memory of an idle child process (its RSS)';
  const rss: number[] = [];
  for (let trial = 0; trial < trials; trial++) {
    onSample(label, trial + 1, trials, false);
    const idle = await startChild();
    await sleep(100);
    rss.push(((await roundTrip(idle, 'memory')) as number) / 2 ** 20);
    await stopChild(idle);
  }
  return { id: 'child-memory', label, unit: 'MB', stats: statsOf(rss), note: 'a whole Node.js process: its own V8 heap and runtime' };
}

/** V8's full garbage collection, made callable at run time: a heap figure then counts only what is still held. */
function collectGarbage(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/**
 * The memory a stream of `items` lines of 1 KB holds on its way to a slow writable (a write done a
 * turn later): through pipeline(), which holds only what fits under the high-water marks, or
 * collected into an array first. The live heap after a full garbage collection, at the highest of
 * the checks made every 5,000 lines: the process's own heap included, so that the two rows differ
 * by what the stream held (a difference above the starting point can be 0, no figure to plot).
 */
async function streamMemory(kind: 'pipeline' | 'collected', items: number, trials: number, onSample: OnSample): Promise<Row> {
  const label = `live heap at its peak while ${items.toLocaleString('en')} lines of 1 KB go to a slow writable, ${kind === 'pipeline' ? 'through pipeline()' : 'collected into an array first'}`;
  const gc = collectGarbage();
  const peaks: number[] = [];
  for (let trial = 0; trial < trials; trial++) {
    onSample(label, trial + 1, trials, false);
    // A function of its own: what one trial held is garbage once it returns (a suspended async
    // frame would keep it, and the next trial's starting point would count it).
    peaks.push((await streamPeak(kind, items, gc)) / 2 ** 20);
  }
  const note =
    kind === 'pipeline' ? "the backpressure exercise: the process's own heap, and next to nothing more" : 'grows with the stream: every line held at once';
  return { id: `stream-memory-${kind}`, label, unit: 'MB', stats: statsOf(peaks), note };
}

/** One stream's peak of live heap, in bytes. */
async function streamPeak(kind: 'pipeline' | 'collected', items: number, gc: () => void): Promise<number> {
  const live = () => {
    gc();
    return process.memoryUsage().heapUsed;
  };
  let peak = live();
  let written = 0;
  async function* lines() {
    // A flat string of its own on the heap (a padded or repeated one may share its characters).
    for (let line = 0; line < items; line++) yield Buffer.alloc(1024, line % 256).toString('latin1');
  }
  const slow = new Writable({
    objectMode: true,
    highWaterMark: 16,
    write(_line, _encoding, done) {
      if (++written % 5_000 === 0) peak = Math.max(peak, live());
      setImmediate(done);
    },
  });
  if (kind === 'pipeline') {
    await pipeline(lines(), slow);
  } else {
    const all: string[] = [];
    for await (const line of lines()) all.push(line);
    peak = Math.max(peak, live());
    for (const line of all) if (!slow.write(line)) await once(slow, 'drain');
    slow.end();
    await finished(slow);
  }
  return peak;
}
