import { afterAll } from 'vitest';
import { liveChildren, liveWorkers, spawnLog } from '../testing/spawned.ts';

// Start watching before the test file imports anything that could start a worker or a child.
spawnLog();

// Nothing outlives a test file: a learner's leaked worker or runaway child is stopped here, so
// the run always exits and leaves no orphan process behind. (Tests that teach "clean up after
// yourself" check for leaks themselves, before this runs.)
afterAll(async () => {
  for (const child of liveChildren()) child.kill('SIGKILL');
  await Promise.all(liveWorkers().map((worker) => worker.terminate()));
});
