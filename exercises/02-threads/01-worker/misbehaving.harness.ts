// A worker the tests start through runWorker() to see how it handles a worker that goes wrong.
// workerData says how to go wrong.
import { parentPort, workerData } from 'node:worker_threads';

export type Misbehaviour =
  | 'throw'
  | 'throw-range-error'
  | 'throw-zero'
  | 'throw-empty-string'
  | 'throw-null'
  | 'exit-3'
  | 'exit-3-after-posting'
  | 'exit-quietly'
  | 'linger'
  | 'post-twice'
  | 'post-undefined'
  | 'post-null';

// Most ways come as the Misbehaviour alone; one comes with cells that the test and this worker share.
const how: Misbehaviour = typeof workerData === 'string' ? (workerData as Misbehaviour) : (workerData as { how: Misbehaviour }).how;

switch (how) {
  case 'throw':
    throw new Error('thrown inside the worker on purpose');
  case 'throw-range-error':
    // An error of a class of its own: the caller should see a RangeError, not only its message.
    throw new RangeError('a RangeError thrown inside the worker on purpose');
  // Falsy values, thrown as they are: the 'error' event hands over exactly what was thrown.
  case 'throw-zero':
    throw 0;
  case 'throw-empty-string':
    throw '';
  case 'throw-null':
    throw null;
  case 'exit-3':
    process.exit(3);
    break;
  case 'exit-3-after-posting': {
    // Posts its result, then exits with code 3: the result came first, so the code is no failure.
    // It posts once the test lets it (cells[0]), and tells the test it has posted (cells[1]): the test
    // holds its own thread from then until after this exit, so that a runWorker that terminate()s
    // the worker on its message cannot stop it before its process.exit(3).
    const { cells } = workerData as { cells: Int32Array };
    Atomics.wait(cells, 0, 0, 10_000);
    parentPort!.postMessage('the result');
    Atomics.store(cells, 1, 1);
    Atomics.notify(cells, 1);
    process.exit(3);
    break;
  }
  case 'exit-quietly':
    // Returns without posting anything: exit code 0, and no result.
    break;
  case 'linger':
    // Posts its result, then keeps listening on its port: it would never exit by itself.
    parentPort!.postMessage('the result');
    parentPort!.on('message', () => {});
    break;
  case 'post-twice':
    // Posts two messages, one right after the other, then ends by itself: only the first is the result.
    parentPort!.postMessage('the first message');
    parentPort!.postMessage('a second message');
    break;
  case 'post-undefined':
    // Posts undefined, then ends by itself: a message all the same, and its value is the result.
    parentPort!.postMessage(undefined);
    break;
  case 'post-null':
    // Posts null, then ends by itself: a message all the same, and its value is the result.
    parentPort!.postMessage(null);
    break;
}
