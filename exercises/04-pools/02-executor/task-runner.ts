// The other side of an executor. ThreadPoolExecutor starts this file as a worker thread and
// ProcessPoolExecutor forks it as a child process. Either way it waits for task calls (a
// TaskCall from tasks.ts), runs each one with runTask(), and sends back exactly one reply per
// call: the task's value, or the error it threw (a task may also return a rejected promise).
//
// A worker thread receives and sends through `parentPort` (node:worker_threads); a child
// process through process.on('message') and process.send().

// TODO: listen for task calls, run them, reply with the value or with the error's name, message and stack.
throw new Error('Not implemented yet: the task runner in exercises/04-pools/02-executor/task-runner.ts (see README.md there)');
