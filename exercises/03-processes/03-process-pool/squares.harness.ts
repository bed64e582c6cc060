/**
 * The child the tests' pools run: each message is a task, each task gets exactly one reply.
 * A task sums the squares 1² + ... + n² (a fixed amount of CPU work), and can be told to crash
 * half-way or to hold its reply back for a while.
 */
export interface SquaresTask {
  n: number;
  /** Exit with code 7 half-way through the sum, as a crashing child would. */
  crash?: boolean;
  /** Wait this long before replying, so that replies come back in a different order. */
  holdMs?: number;
}

export interface SquaresReply {
  sum: number;
  pid: number;
  /** When the task started and ended here, in wall-clock ms, for the tests' timelines. */
  startedAt: number;
  endedAt: number;
}

const now = () => performance.timeOrigin + performance.now();

process.on('message', (task: SquaresTask) => {
  const startedAt = now();
  let sum = 0;
  for (let i = 1; i <= task.n; i += 1) {
    sum += i * i;
    if (task.crash && i === Math.floor(task.n / 2)) process.exit(7);
  }
  const reply = () => process.send!({ sum, pid: process.pid, startedAt, endedAt: now() } satisfies SquaresReply);
  if (task.holdMs) setTimeout(reply, task.holdMs);
  else reply();
});
