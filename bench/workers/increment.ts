/** The cells of the increment benchmark's shared memory. */
export const COUNTER = 0;
export const LOCK = 1;
export const ARRIVED = 2;
export const GO = 3;
export const CELLS = 4;

/** plain: `cells[i]++` (a race); atomic: Atomics.add; mutex: the kata's Mutex around `cells[i]++`. */
export type IncrementKind = 'plain' | 'atomic' | 'mutex';
