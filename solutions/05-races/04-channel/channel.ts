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
  const position = waitForRoom(channel);
  channel.slots[position % channel.slots.length] = value;
  publish(channel, position);
}

/** Producer: ends the stream. The consumer gets every item sent before it, then `undefined`. */
export function close(channel: Channel): void {
  // The end marker travels like an item, so moving TAIL wakes a consumer asleep on an empty
  // channel. A separate "closed" flag could not: Atomics.wait watches a single word.
  const position = waitForRoom(channel);
  Atomics.store(channel.header, END, position);
  publish(channel, position);
}

/**
 * Consumer: takes the next item; while the channel is empty, sleeps until one is sent.
 * Returns undefined once the stream has ended (and on every call after that).
 */
export function receive(channel: Channel): number | undefined {
  const { header, slots } = channel;
  const head = Atomics.load(header, HEAD);
  // Empty: sleep until the producer moves TAIL. wait() sleeps only if TAIL still equals `head`
  // at that instant, so an item sent between our load and our wait is never missed. The loop
  // checks again after every wake-up.
  while (Atomics.load(header, TAIL) === head) Atomics.wait(header, TAIL, head);
  // The end marker stays in place, so every later receive() ends here too.
  if (Atomics.load(header, END) === head) return undefined;
  // Read the item before freeing its slot: once HEAD moves, the producer may overwrite it.
  const value = slots[head % slots.length]!;
  Atomics.store(header, HEAD, head + 1);
  Atomics.notify(header, HEAD);
  return value;
}

/** The next free position, once there is one: TAIL - HEAD is the number of items waiting. */
function waitForRoom({ header, slots }: Channel): number {
  // Only the producer moves TAIL, so it cannot change under us.
  const tail = Atomics.load(header, TAIL);
  for (let head = Atomics.load(header, HEAD); tail - head === slots.length; head = Atomics.load(header, HEAD)) {
    // Full: sleep until the consumer moves HEAD (same no-missed-wake-up rule as in receive).
    Atomics.wait(header, HEAD, head);
  }
  return tail;
}

/** Makes the item at `position` visible to the consumer and wakes it if it sleeps. */
function publish({ header }: Channel, position: number): void {
  // This store comes after the slot was written: a consumer that sees the new TAIL sees the item.
  Atomics.store(header, TAIL, position + 1);
  Atomics.notify(header, TAIL);
}
