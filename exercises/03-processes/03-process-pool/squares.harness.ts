/**
 * The child the tests' pools run: each message is a task, each task gets exactly one reply.
 * A task sums the squares 1² + ... + n² (a fixed amount of CPU work), and can be told to crash
 * half-way or to hold its reply back for a while.
 */
export interface SquaresTask {
  n: number;
  /** Exit with code 7 half-way through the sum, as a crashing child would. */
  crash?: boolean;
  /** How a crash ends the child instead: another exit code (0 too), or a signal it sends itself. */
  crashWith?: { code?: number; signal?: NodeJS.Signals };
  /** Wait this long before replying, so that replies come back in a different order. */
  holdMs?: number;
}

export interface SquaresReply {
  sum: number;
  pid: number;
  /** When the task started and ended here, in wall-clock ms, for the tests' timelines. */
  startedAt: number;
  endedAt: number;
  /** How many other tasks this child had been sent and had not yet answered when this one arrived. */
  alsoRunning: number;
}

const now = () => performance.timeOrigin + performance.now();

let unanswered = 0;

process.on('message', (task: SquaresTask) => {
  const startedAt = now();
  const alsoRunning = unanswered;
  unanswered += 1;
  let sum = 0;
  for (let i = 1; i <= task.n; i += 1) {
    sum += i * i;
    if (task.crash && i === Math.floor(task.n / 2)) {
      if (task.crashWith?.signal) process.kill(process.pid, task.crashWith.signal);
      else process.exit(task.crashWith?.code ?? 7);
    }
  }
  const reply = () => {
    unanswered -= 1;
    process.send!({ sum, pid: process.pid, startedAt, endedAt: now(), alsoRunning } satisfies SquaresReply);
  };
  if (task.holdMs) setTimeout(reply, task.holdMs);
  else reply();
});
