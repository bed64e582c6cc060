// What the test and its harness workers (barrier.harness.ts) share: the layout of each thread's
// counters, and what a worker is told to do. Constants only, so the test can import them without
// running a harness.

/** Where the test keeps its counters for one thread, in that thread's `control` (shared memory of its own). */
export interface ControlCells {
  /** Rounds the test lets this thread begin: it arrives in round r once go > r. */
  go: number;
  /** 1 while this thread is asleep in Atomics.wait. */
  parked: number;
  /** Atomics calls made inside arriveAndWait(). */
  calls: number;
  /** Its Atomics.wait calls, those that returned 'timed-out', and those begun after an earlier one of the same arriveAndWait() returned 'ok' (woken, it went back to sleep). */
  waits: number;
  timedOut: number;
  rewaits: number;
  /** Its Atomics.wait calls that slept (returned 'ok' or 'timed-out', not 'not-equal'). */
  slept: number;
  /** Its Atomics.notify calls on the barrier's two cells; the threads they woke; the largest count asked for (-1: all). */
  notifies: number;
  woken: number;
  askedToWake: number;
  /** Its Atomics.notify calls anywhere else (another cell, another array). */
  notifiesElsewhere: number;
  /** Its last Atomics.wait: the cell of the memory (-1: another array; -2: none yet) and the expected value. */
  lastWaitCell: number;
  lastWaitValue: number;
  /** The cell of its last Atomics.notify on the memory (-1: another array; -2: none yet). */
  lastNotifyCell: number;
  /** The test sets it to 1 to let a paused thread go on. */
  resume: number;
  /**
   * Rounds this thread has left, written before its 'left' message: a message comes later than
   * what the thread does next in shared memory (it may be asleep in the next round already).
   */
  roundsLeft: number;
}

export const controlCells: ControlCells = {
  go: 0,
  parked: 1,
  calls: 2,
  waits: 3,
  timedOut: 4,
  rewaits: 5,
  notifies: 6,
  woken: 7,
  askedToWake: 8,
  notifiesElsewhere: 9,
  lastWaitCell: 10,
  lastWaitValue: 11,
  lastNotifyCell: 12,
  resume: 13,
  slept: 14,
  roundsLeft: 15,
};
/** lastWaitCell (lastNotifyCell) of a thread that has not called Atomics.wait (notify). */
export const NEVER_WAITED = -2;

export interface HarnessData {
  role: 'party' | 'solo' | 'arguments' | 'race';
  memory: Int32Array;
  /** This thread's own counters (see ControlCells). */
  control: Int32Array;
  parties: number;
  index: number;
  /** party: rounds to take part in; solo and race: rounds to run. */
  rounds: number;
  /** party: in this round, pause right after the first Atomics.notify, until the test sets resume. */
  pauseAfterNotify?: number;
  /** party: in this round, pause right after the first Atomics.wait that returns 'ok' (woken by a notify), before the thread can look at the memory, until the test sets resume. */
  pauseAfterWake?: number;
  /**
   * party: in round `round`, pause right after the `writes`-th Atomics call of arriveAndWait() that
   * writes to the memory (the first is the arrival), until the test sets resume.
   */
  pauseAfterWrite?: { round: number; writes: number };
  /** race: this thread's number, where each thread notes the rounds it has arrived in, and what the threads saw. */
  me?: number;
  arrivedIn?: Int32Array;
  leaders?: Int32Array;
  seen?: Int32Array;
  gate?: Int32Array;
}

/** race: the cells of `seen`. */
export const SEEN = {
  /** Departures that found another thread not yet arrived in the round just left. */
  early: 0,
  /** The first of them: the round, the thread that left, the one that had not arrived, and how many rounds that one had arrived in. */
  round: 1,
  leaver: 2,
  laggard: 3,
  laggardArrived: 4,
  /** Departures that found another thread two rounds ahead (it passed the next round without this one). */
  ahead: 5,
  length: 6,
} as const;
