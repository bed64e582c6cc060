import { availableParallelism } from 'node:os';
import { ProcessPool, createPool, type SquaresPool, crunchAll, crunch, type Job, jobsChild } from '../solutions.ts';
import { type Group, type Plan, samples, threadCounts } from '../group.ts';
import type { Case } from '../measure.ts';

/**
 * CPU-bound work: the same fixed amount of computing (`jobs` calls of crunch(size), the sum of
 * i * i below size) done by every approach, so the times compare directly.
 */
export function cpuGroup(plan: Plan): Group {
  const cores = availableParallelism();
  const jobs = plan.quick ? 8 : 16;
  const size = plan.quick ? 1e7 : 3e7;
  const sizes = Array.from({ length: jobs }, () => size);
  const crunchJobs = sizes.map((n): Job => ({ workload: 'crunch', input: n }));
  const take = (full: number) => samples(plan, full, 3);
  const warmup = plan.quick ? 1 : 2;
  // Rows that start threads or processes on every call have no JIT to warm in the quick run.
  const spawnWarmup = plan.quick ? 0 : 2;

  const warmPool = (threads: number): Case => {
    let pool: SquaresPool | undefined;
    return {
      id: `pool-${threads}`,
      label: `warm piscina pool, ${threads} thread${threads === 1 ? '' : 's'}`,
      unit: 'ms',
      samples: take(10),
      warmup,
      setup: () => void (pool = createPool({ threads })),
      run: () => Promise.all(sizes.map((n) => pool!.run({ n }))),
      teardown: () => pool?.close(),
    };
  };

  let processPool: ProcessPool | undefined;
  return {
    id: 'cpu',
    title: 'CPU-bound',
    workload: `${jobs} jobs of crunch(${size.toExponential(1)}) (sum of i*i, fixed work), on a ${cores}-core machine`,
    cases: [
      {
        id: 'sequential',
        label: 'sequential loop, main thread',
        unit: 'ms',
        samples: take(10),
        warmup,
        run: () => {
          for (const n of sizes) crunch(n);
        },
      },
      {
        id: 'promise-all',
        label: 'Promise.all of async calls, main thread',
        unit: 'ms',
        samples: take(10),
        warmup,
        run: () => Promise.all(sizes.map(async (n) => crunch(n))),
      },
      {
        id: 'workers-per-call',
        label: `new workers per call (${cores}, choose's crunchAll)`,
        unit: 'ms',
        samples: take(10),
        warmup: spawnWarmup,
        run: () => crunchAll(sizes, cores),
      },
      ...threadCounts(cores).map(warmPool),
      {
        id: 'processes-per-call',
        label: `new processes per call (${cores})`,
        unit: 'ms',
        samples: take(8),
        warmup: spawnWarmup,
        run: async () => {
          const pool = new ProcessPool(jobsChild, cores);
          try {
            await Promise.all(crunchJobs.map((job) => pool.run(job)));
          } finally {
            await pool.close();
          }
        },
      },
      {
        id: 'process-pool',
        label: `warm process pool (${cores})`,
        unit: 'ms',
        samples: take(10),
        warmup,
        setup: () => void (processPool = new ProcessPool(jobsChild, cores)),
        run: () => Promise.all(crunchJobs.map((job) => processPool!.run(job))),
        teardown: () => processPool?.close(),
      },
    ],
  };
}
