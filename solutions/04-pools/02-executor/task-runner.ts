// The other side of an executor. ThreadPoolExecutor starts this file as a worker thread and
// ProcessPoolExecutor forks it as a child process; either way it waits for task calls, runs
// each one and sends back exactly one reply: the task's value, or the error it threw.
import { parentPort } from 'node:worker_threads';
import runTask, { type TaskCall } from './tasks.ts';

export type Reply = { ok: true; value: unknown } | { ok: false; error: { name: string; message: string; stack?: string } };

async function answer(call: TaskCall): Promise<Reply> {
  try {
    // `await` also catches a task that returns a rejected promise.
    return { ok: true, value: await runTask(call) };
  } catch (thrown) {
    // Send the error's parts: the caller rebuilds an Error from them, whatever the channel can carry.
    const { name, message, stack } = thrown instanceof Error ? thrown : new Error(String(thrown));
    return { ok: false, error: { name, message, stack } };
  }
}

// The only difference between the two sides: a worker thread talks through parentPort, a child
// process through process.send() and the process's 'message' event.
if (parentPort !== null) {
  const port = parentPort;
  port.on('message', async (call: TaskCall) => port.postMessage(await answer(call)));
} else {
  process.on('message', async (call: TaskCall) => process.send!(await answer(call)));
}
