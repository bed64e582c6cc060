/**
 * A channel of numbers from one producer thread to one consumer thread, through a ring of slots
 * in shared memory. Everything both threads need is in one SharedArrayBuffer, so a Channel can be
 * handed to a worker in `workerData` or a message and both sides see the same memory.
 */

/** Positions in `header`. Only the consumer moves HEAD; only the producer moves TAIL and END. */
export const HEAD = 0; // how many items have been received so far
export const TAIL = 1; // how many items have been sent so far (the end marker counts as one)
export const END = 2; // -1 while open; after close(), the position of the end marker

export interface Channel {
  /** [HEAD, TAIL, END], read and written with Atomics only. */
  readonly header: Int32Array;
  /** The ring: the item at position p (counting from 0) lives in slots[p % slots.length]. */
  readonly slots: Float64Array;
}

/** A channel that holds up to `capacity` items that have been sent and not yet received. */
export function createChannel(capacity: number): Channel {
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  // The header is padded to 16 bytes so that the Float64 slots start 8-byte aligned.
  const buffer = new SharedArrayBuffer(16 + capacity * Float64Array.BYTES_PER_ELEMENT);
  const header = new Int32Array(buffer, 0, 3);
  header[END] = -1;
  return { header, slots: new Float64Array(buffer, 16, capacity) };
}

/** Producer: puts `value` into the channel; while the channel is full, sleeps until there is room. */
export function send(channel: Channel, value: number): void {
  // TODO: wait while the ring is full, write the slot, then move TAIL and wake the consumer.
  throw new Error('Not implemented yet: send() in exercises/05-races/04-channel/channel.ts (see README.md there)');
}

/** Producer: ends the stream. The consumer gets every item sent before it, then `undefined`. */
export function close(channel: Channel): void {
  // TODO: send the end marker: take the next position like an item, record it in END, move TAIL.
  throw new Error('Not implemented yet: close() in exercises/05-races/04-channel/channel.ts (see README.md there)');
}

/**
 * Consumer: takes the next item; while the channel is empty, sleeps until one is sent.
 * Returns undefined once the stream has ended (and on every call after that).
 */
export function receive(channel: Channel): number | undefined {
  // TODO: wait while the ring is empty, stop at the end marker, read the slot, then move HEAD
  // and wake the producer.
  throw new Error('Not implemented yet: receive() in exercises/05-races/04-channel/channel.ts (see README.md there)');
}
