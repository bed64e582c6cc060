import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, test } from 'vitest';
import { realAtomics, watchIndexedAccess } from '#kata/inside/atomics-spy.ts';
import { lookAtThread, type RunnableLooks, untilFoundAsleep, workerCpuTimeMs } from '#kata/testing/harness-worker.ts';
import { measured, settlementWithin, shownReason, sleep, Timeline, until, valueWithin, within } from '#kata/testing/index.ts';
import { type Channel, close, createChannel, END, HEAD, receive, send, TAIL } from './channel.ts';
import type { ConsumerData, StreamReport } from './consumer.harness.ts';
import {
  CLOSE_GATE,
  CONSUMER_ASLEEP,
  CONSUMER_CELLS,
  CONSUMER_GATE,
  CONSUMER_WAITED_FOR,
  CONSUMER_WAITED_ON,
  createControl,
  openGate,
  POISON,
  PRODUCER_CELLS,
  RECEIVED,
  SENT,
  SENT_AT_FIRST_WAIT,
  type SideCells,
} from './control.harness.ts';
import type { ProducerData } from './producer.harness.ts';

const producerUrl = new URL('./producer.harness.ts', import.meta.url);
const consumerUrl = new URL('./consumer.harness.ts', import.meta.url);

const CAPACITY = 16;
const n = (value: number) => value.toLocaleString('en-US');
/** How long nothing may move before a run counts as deadlocked. */
const STALL_MS = 3_000;
/**
 * How long the test watches a waiting thread. Asleep in Atomics.wait (or in its idle event loop),
 * the thread is never found ready to run and uses next to no CPU; spinning, it is always found
 * ready to run, and uses whatever CPU the machine gives it. Its state judges where Linux shows it;
 * elsewhere its own CPU share (CONTRIBUTING.md has the figures for both).
 */
const CPU_WINDOW_MS = 400;
const MAX_RUNNABLE_SHARE = 0.5;
const MAX_CPU_SHARE = 0.05;
/** The most Atomics calls on the header that close() is held after, one run each: a close() that makes more is not held further in. */
const MAX_CLOSE_STEPS = 12;
const HEADER_NAMES = ['HEAD', 'TAIL', 'END'];
const ordinal = (count: number) => `${count}${(count % 100 >= 11 && count % 100 <= 13 ? undefined : ['st', 'nd', 'rd'][(count % 10) - 1]) ?? 'th'}`;

interface Message {
  type: string;
  threadId?: number;
  /** Where Linux keeps this thread's counters (see announceThread). */
  proc?: string;
  report?: StreamReport;
  /** The producer's harness, holding close() (holdClose): the call it was held after ('held'), or one close() made ('call'). */
  after?: string;
  line?: string;
}

/**
 * A harness worker (the producer or the consumer), its messages, and its failure: a learner's
 * error in the worker (the stub's "Not implemented yet" included) fails every wait on it.
 */
class Side {
  readonly worker: Worker;
  readonly messages: Message[] = [];
  readonly failed: Promise<never>;
  /** The worker's error once it has failed, for polls that look rather than await. */
  failure: unknown;

  constructor(url: URL, workerData: ProducerData | ConsumerData, timeline: Timeline, label: string) {
    this.worker = new Worker(url, { workerData });
    running.push(this);
    let end: (() => unknown) | undefined;
    this.worker.on('message', (message: Message) => {
      this.messages.push(message);
      if (message.type === 'started') end = timeline.begin(label, { threadId: message.threadId });
      if (message.type === 'done') end?.();
    });
    this.failed = new Promise<never>((_, reject) => {
      this.worker.once('error', reject);
      this.worker.once('exit', (code) => {
        if (!this.has('done')) reject(new Error(`the ${label} thread exited (code ${code}) before it finished`));
      });
    });
    // Read through `watch` and `next` (or `failure`); this also keeps a failure nobody waited for from being unhandled.
    this.failed.catch((error: unknown) => (this.failure ??= error));
  }

  has(type: string): Message | undefined {
    return this.messages.find((message) => message.type === type);
  }

  /** Resolves with the first message of `type` (at once if it came already); rejects if the worker fails. */
  next(type: string): Promise<Message> {
    const arrived = new Promise<Message>((resolve) => {
      const came = this.has(type);
      if (came) return resolve(came);
      const listen = (message: Message) => {
        if (message.type !== type) return;
        this.worker.off('message', listen);
        resolve(message);
      };
      this.worker.on('message', listen);
    });
    return this.watch(arrived);
  }

  /** `work`, unless the worker fails first. */
  watch<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.failed]);
  }
}

const running: Side[] = [];
afterEach(async () => {
  // Every worker ends with its test, even one asleep in Atomics.wait forever.
  await Promise.all(running.splice(0).map((side) => side.worker.terminate()));
});

/** One producer and one consumer on a 16-slot channel, and what the test can see of them. */
class Pipe {
  readonly channel: Channel;
  readonly capacity: number;
  readonly control = createControl();
  readonly timeline = new Timeline();
  readonly consumer: Side;
  readonly producer: Side | undefined;
  /** The producer sends 1..count. */
  readonly count: number;

  /** Starts the consumer and, unless the test thread plays the producer itself, a producer thread. */
  constructor(
    count: number,
    {
      pauseAfter,
      producer = true,
      capacity = CAPACITY,
      poisonFreedSlots,
      releaseConsumerOnWait,
      holdClose,
    }: {
      pauseAfter?: number;
      producer?: boolean;
      capacity?: number;
      poisonFreedSlots?: boolean;
      releaseConsumerOnWait?: boolean;
      holdClose?: number;
    } = {},
  ) {
    this.capacity = capacity;
    this.channel = createChannel(capacity);
    this.count = count;
    const { channel, control } = this;
    this.consumer = new Side(consumerUrl, { channel, control, count, pauseAfter, poisonFreedSlots }, this.timeline, 'consumer');
    this.producer = producer ? new Side(producerUrl, { channel, control, count, releaseConsumerOnWait, holdClose }, this.timeline, 'producer') : undefined;
  }

  /** Throws a side's failure (the stub's error included), for polls. */
  throwIfFailed(): void {
    for (const side of [this.consumer, this.producer]) if (side?.failure) throw side.failure;
  }

  get sent(): number {
    return Atomics.load(this.control, SENT);
  }

  get indices(): string {
    return `HEAD ${Atomics.load(this.channel.header, HEAD)}, TAIL ${Atomics.load(this.channel.header, TAIL)}`;
  }

  /** Items sent and not yet received, as the channel's own indices say. */
  get waiting(): number {
    return Atomics.load(this.channel.header, TAIL) - Atomics.load(this.channel.header, HEAD);
  }

  /** The test thread as producer: sends 1..count and closes (the channel has room, so no waiting). */
  produceHere(): void {
    const end = this.timeline.begin('producer (test thread)');
    for (let value = 1; value <= this.count; value += 1) {
      send(this.channel, value);
      Atomics.store(this.control, SENT, value);
    }
    close(this.channel);
    end();
  }

  /**
   * Waits for the consumer's message `type` while the stream moves. Fails fast, saying what each
   * side had done, if nothing moves for STALL_MS: that is a deadlock, and waiting longer won't help.
   */
  async until(type: string): Promise<Message> {
    const progress = () => `${this.sent},${Atomics.load(this.control, RECEIVED)},${this.indices}`;
    let over = false;
    let stalled = false;
    const watchdog = (async () => {
      let last = progress();
      let since = performance.now();
      while (!over && !stalled) {
        await sleep(20);
        const now = progress();
        if (now !== last) [last, since] = [now, performance.now()];
        else if (performance.now() - since > STALL_MS) stalled = true;
      }
    })();
    try {
      const message = await this.consumer.watch(Promise.race([this.consumer.next(type), watchdog]));
      if (message) return message;
    } finally {
      over = true;
    }
    throw new Error(this.deadlock());
  }

  deadlock(): string {
    const producerDone = this.producer ? this.producer.has('done') : this.sent === this.count;
    const situation =
      producerDone && this.waiting > 0
        ? `The producer has finished, yet the consumer sleeps with ${this.waiting} item(s) waiting for it. `
        : this.waiting >= this.capacity
          ? 'The channel is full and the producer waits for room, but the consumer is not taking items. '
          : this.waiting === 0
            ? 'The channel is empty and the consumer waits, but the producer is not sending. '
            : '';
    return (
      `Deadlock: nothing moved for ${STALL_MS / 1000} s. ${this.sent} sends and ${Atomics.load(this.control, RECEIVED)} receives ` +
      `had returned; the channel holds ${this.waiting} of ${this.capacity} items (${this.indices}). ${situation}` +
      'The waiting side either sleeps in an Atomics.wait that nobody notified (after moving TAIL or HEAD, call Atomics.notify on ' +
      'that index, so that a thread asleep on it wakes up), or loops on a full or empty test that the indices never satisfy ' +
      '(compare TAIL - HEAD with the capacity). (Both threads have been stopped.)'
    );
  }

  /** Waits for the end of the stream and the consumer's report. */
  async finish(): Promise<StreamReport> {
    await this.until('ended');
    const done = await within(
      1_000,
      this.consumer.next('done'),
      'After receive() returned undefined for the end of the stream, a second receive() waited instead of returning undefined at once. ' +
        'Leave the end marker where it is (do not move HEAD past it), so every receive after the end ends too',
    );
    return done.report!;
  }

  /** Every item 1..count came once, in order, and then the end. */
  expectWholeStream(report: StreamReport): void {
    const picture = `\n${this.timeline.toText()}\n`;
    const wrong = report.firstWrong;
    const summary =
      `The consumer received ${report.received} items for the ${this.count} sent: ${report.missing} never came, ` +
      `${report.duplicated} came twice or more, ${report.strange} were values never sent` +
      (wrong ? `; the first wrong one was at position ${wrong.position}: expected ${wrong.expected}, got ${String(wrong.got)}. ` : '. ');
    const causes = [
      report.missing > 0 &&
        'Items went missing: a slot was written over before its item was read (a full ring must make send() wait), ' +
          'or positions do not wrap around the ring (position 16 of a 16-slot ring is slot 0: % capacity).',
      report.duplicated + report.strange > 0 &&
        'Items came twice, or values came that were never sent: the consumer read slots the producer had not written. ' +
          'Producer and consumer must map a position to the same slot (position % capacity), write the slot before moving TAIL, ' +
          'and read it before moving HEAD.',
    ].filter(Boolean);
    expect({ missing: report.missing, duplicated: report.duplicated, strange: report.strange }, `${summary}${causes.join(' ')}${picture}`).toEqual({
      missing: 0,
      duplicated: 0,
      strange: 0,
    });
    expect(wrong, `${summary}Items came out of order: a ring is first in, first out.${picture}`).toBeUndefined();
    expect(report.received, summary).toBe(this.count);
    expect(report.afterEnd, `After the end of the stream, receive() must return undefined, not ${String(report.afterEnd)}.`).toBeUndefined();
  }

  async producerFinished(): Promise<void> {
    if (this.producer) await within(1_000, this.producer.next('done'), 'the producer never finished, although the consumer received everything');
  }
}

/** What a waiting thread did while the test watched it for `ms`. */
interface WhileWaiting {
  /** How often it was found running or ready to run (Linux only). */
  looks: RunnableLooks | undefined;
  /** CPU ms the waiting thread used, or, where its own time cannot be read, the whole process. */
  cpuMs: number;
  share: number;
  whose: string;
}

async function whileWaiting(side: Side, ms: number): Promise<WhileWaiting> {
  // The thread says where Linux keeps its counters before it starts; judge by its state, not by CPU.
  const proc = (await within(2_000, side.next('thread'), 'the thread never said where Linux keeps its counters')).proc;
  const threadBefore = await workerCpuTimeMs(side.worker, proc);
  const processBefore = process.cpuUsage();
  const started = performance.now();
  const [looks] = await side.watch(Promise.all([lookAtThread(proc, ms), sleep(ms)]));
  const watched = performance.now() - started;
  const threadAfter = await workerCpuTimeMs(side.worker, proc);
  if (threadBefore !== undefined && threadAfter !== undefined) {
    const cpuMs = threadAfter - threadBefore;
    return { looks, cpuMs, share: cpuMs / watched, whose: 'its thread' };
  }
  // Node 22 off Linux: the whole process, every thread of it, is all there is to read.
  const used = process.cpuUsage(processBefore);
  const cpuMs = (used.user + used.system) / 1000;
  return { looks, cpuMs, share: cpuMs / watched, whose: 'the whole process' };
}

/**
 * For a channel used on the test thread alone: a wait there would sleep for ever (no other thread
 * moves the channel), so each Atomics.wait on its header (or on the header of any copy of it the
 * test passes too) is cut short at 200 ms, and one that times out throws, failing the call that
 * made it. Returns the function that puts Atomics.wait back.
 */
function cutWaitsShort(...channels: Channel[]): () => void {
  const atomics = Atomics as unknown as { wait: (...args: unknown[]) => unknown };
  const realWait = atomics.wait;
  atomics.wait = (...args: unknown[]) => {
    if (!channels.some((channel) => args[0] === channel.header)) return realWait(...args);
    const result = realWait(args[0], args[1], args[2], Math.min(Number(args[3] ?? Number.POSITIVE_INFINITY), 200));
    if (result === 'timed-out')
      throw new Error(`it went to sleep in Atomics.wait on header[${String(args[1])}], with room (or an item, or the end) there for it`);
    return result;
  };
  return () => {
    atomics.wait = realWait;
  };
}

function expectAsleep(seen: WhileWaiting, who: string, waitingFor: string, advice: string): void {
  const cpu = `${seen.whose} used ${seen.cpuMs.toFixed(1)} ms of CPU (${Math.round(seen.share * 100)}% of a core)`;
  const busy = `it waits in a busy loop, burning a core to check again and again. ${advice}`;
  const { looks } = seen;
  if (looks && looks.looks > 0) {
    expect(
      measured(`channel: share of looks finding a ${who} waiting ${waitingFor} ready to run`, looks.runnable / looks.looks, MAX_RUNNABLE_SHARE),
      `While the ${who} waited ${CPU_WINDOW_MS} ms ${waitingFor}, its thread was found running or ready to run in ${looks.runnable} ` +
        `of ${looks.looks} looks (a thread asleep in Atomics.wait never is), and ${cpu}: ${busy}`,
    ).toBeLessThan(MAX_RUNNABLE_SHARE);
    return;
  }
  expect(
    measured(`channel: CPU share of a ${who} waiting ${waitingFor}`, seen.share, MAX_CPU_SHARE),
    `While the ${who} waited ${CPU_WINDOW_MS} ms ${waitingFor}, ${cpu}; a thread asleep in Atomics.wait uses next to none: ${busy}`,
  ).toBeLessThan(MAX_CPU_SHARE);
}

describe('channel between two worker threads', () => {
  test('every item arrives exactly once and in order: 100,000 items through 16 slots', { timeout: 60_000 }, async () => {
    const pipe = new Pipe(100_000);
    pipe.expectWholeStream(await pipe.finish());
    await pipe.producerFinished();
  });

  test('a full channel makes the producer wait, never more than 16 items ahead, asleep, not spinning', { timeout: 30_000 }, async () => {
    const pauseAfter = 5;
    const pipe = new Pipe(200, { pauseAfter });
    await pipe.until('paused');
    const stopsAt = pauseAfter + CAPACITY;
    // The producer fills the ring in microseconds; a thread starved by a busy machine gets 2 s.
    for (let waited = 0; pipe.sent < stopsAt && !pipe.producer!.has('done') && waited < 2_000; waited += 5) {
      await pipe.producer!.watch(sleep(5));
    }
    const cpu = await whileWaiting(pipe.producer!, CPU_WINDOW_MS);
    const sent = pipe.sent;
    const picture = `\n${pipe.timeline.toText()}\n`;
    const ahead = `The consumer took ${pauseAfter} items and paused; by then ${sent} sends had returned (${pipe.indices}).`;
    expect(
      sent,
      sent === stopsAt + 1
        ? `${ahead} That is ${CAPACITY + 1} items ahead in a ${CAPACITY}-slot ring: the producer overwrote an item not yet received. ` +
            `The ring is full when TAIL - HEAD === capacity: off by one?${picture}`
        : `${ahead} A ${CAPACITY}-slot ring holds at most ${CAPACITY} unreceived items, so the producer overwrote ${sent - stopsAt} of them. ` +
            `A full ring must make send() wait until the consumer frees a slot.${picture}`,
    ).toBeLessThanOrEqual(stopsAt);
    expect(
      sent,
      `${ahead} The producer stopped with only ${sent - pauseAfter} items in a ring of ${CAPACITY}: the ring is full when TAIL - HEAD === capacity.${picture}`,
    ).toBe(stopsAt);
    expectAsleep(cpu, 'producer', 'for room', 'Make send() sleep with Atomics.wait on HEAD until the consumer notifies.');
    openGate(pipe.control, CONSUMER_GATE);
    pipe.expectWholeStream(await pipe.finish());
    await pipe.producerFinished();
  });

  test('an empty channel makes the consumer wait asleep, not spinning, until items come', { timeout: 30_000 }, async () => {
    const pipe = new Pipe(10, { producer: false });
    await within(10_000, pipe.consumer.next('started'), 'the consumer thread never started');
    // Let it reach its first receive() on the empty channel.
    await pipe.consumer.watch(sleep(50));
    const cpu = await whileWaiting(pipe.consumer, CPU_WINDOW_MS);
    pipe.produceHere();
    const report = await pipe.finish();
    expectAsleep(cpu, 'consumer', 'on an empty channel', 'Make receive() sleep with Atomics.wait on TAIL until the producer notifies.');
    pipe.expectWholeStream(report);
  });

  test('close() wakes a consumer asleep on an empty channel, and every receive after the end returns undefined', async () => {
    const pipe = new Pipe(0, { producer: false });
    await within(10_000, pipe.consumer.next('started'), 'the consumer thread never started');
    // Let it fall asleep in its first receive() on the empty channel.
    await pipe.consumer.watch(sleep(100));
    pipe.produceHere();
    await within(
      2_000,
      pipe.consumer.next('ended'),
      'close() did not wake the consumer asleep on the empty channel: it still waits for an item that will never come. ' +
        'close() must move TAIL (the end marker takes a position like an item) and Atomics.notify it',
    );
    pipe.expectWholeStream(await pipe.finish());
  });

  test('close() wakes a consumer that takes the last item and falls asleep while close() is under way, whatever step of close() it comes after', {
    timeout: 60_000,
  }, async () => {
    // One item is sent, then close() is called, with the consumer held before its first receive. The
    // producer's harness holds close() right after its 1st, 2nd, 3rd, ... Atomics call on the header
    // (one run each); meanwhile the consumer is let go: it takes the item and, unless close() has
    // moved TAIL already, falls asleep on the emptied ring. Then close() goes on, and must wake it.
    const notifiedWhenHeldAt: number[] = [];
    for (let step = 1; step <= MAX_CLOSE_STEPS; step += 1) {
      const pipe = new Pipe(1, { pauseAfter: 0, holdClose: step });
      const producer = pipe.producer!;
      await within(10_000, pipe.consumer.next('paused'), 'the consumer thread never started');
      await within(
        10_000,
        Promise.race([producer.next('held'), producer.next('done')]),
        `The producer's send(channel, 1) and close(), on an empty channel of ${CAPACITY} slots, had not returned 10 s later, ` +
          `and close() had not made its ${ordinal(step)} Atomics call on the header (where the test holds it): with room in the ring, neither has to wait`,
      );
      const held = producer.has('held');
      // close() made fewer calls than that: every step of it has been tried.
      if (step > 1 && !held) break;
      const heldAt = held
        ? `close() was held right after its ${ordinal(step)} Atomics call on the header (${String(held.after)})`
        : 'close() returned without any Atomics call on the header';
      const calls = () => producer.messages.filter((message) => message.type === 'call').map((message) => String(message.line));
      const received = () => Atomics.load(pipe.control, RECEIVED);
      const asleep = () => Atomics.load(pipe.control, CONSUMER_ASLEEP) > 0;
      const ended = () => pipe.consumer.has('ended') !== undefined;

      openGate(pipe.control, CONSUMER_GATE);
      const settled = await until(() => ended() || (received() === 1 && asleep()), 5_000, { check: () => pipe.throwIfFailed() });
      expect(
        settled,
        `${heldAt}, with the one item sent still in the ring. Then the consumer, held until then, was let go, and 5 s later it ` +
          (received() === 0
            ? `had not taken that item${asleep() ? ' (it was asleep on the header, with the item there for it)' : ''}`
            : 'had taken that item, but had neither received the end of the stream nor gone to sleep on the header (Atomics.wait or Atomics.waitAsync on it)') +
          `, with ${pipe.indices}: this test has no sleeper to see close() wake. A consumer that finds the ring empty sleeps on TAIL until the producer moves it.` +
          `\n${pipe.timeline.toText()}\n`,
      ).toBe(true);
      const sleptOn = HEADER_NAMES[Atomics.load(pipe.control, CONSUMER_WAITED_ON)] ?? 'the header';
      const expecting = Atomics.load(pipe.control, CONSUMER_WAITED_FOR);
      const sleeping = !ended() && asleep();
      // Marked asleep just before its Atomics.wait: let it really fall asleep before close() goes on.
      if (sleeping) await pipe.consumer.watch(untilFoundAsleep(pipe.consumer.has('thread')?.proc, 2_000, 100));

      openGate(pipe.control, CLOSE_GATE);
      const closed = await settlementWithin(producer.next('done'), 5_000);
      if (closed.state === 'rejected') throw closed.reason;
      const after = calls().slice(held ? step : 0);
      expect(
        closed.state,
        `${heldAt}; let go, close() had not returned 5 s later, on a channel of ${CAPACITY} slots holding at most 1 item: it never has to wait there. ` +
          `Its Atomics calls on the header after the hold: ${after.join('; ') || 'none'}.\n${pipe.timeline.toText()}\n`,
      ).toBe('resolved');
      if (calls().some((line) => line.startsWith('Atomics.notify(header, TAIL'))) notifiedWhenHeldAt.push(step);

      const end = await settlementWithin(pipe.consumer.next('ended'), STALL_MS);
      if (end.state === 'rejected') throw end.reason;
      if (end.state === 'pending') {
        const tail = Atomics.load(pipe.channel.header, TAIL);
        const stillAsleep = asleep();
        const notifiedTail = calls().some((line) => line.startsWith('Atomics.notify(header, TAIL'));
        const earlier = notifiedWhenHeldAt.filter((other) => other !== step);
        const cause =
          stillAsleep && sleptOn === 'TAIL' && tail !== expecting && !notifiedTail
            ? earlier.length > 0
              ? `This time close() called no Atomics.notify on TAIL at all, where held after its ${earlier
                  .map(ordinal)
                  .join(', ')
                  .replace(/, ([^,]*)$/, ' and $1')} call it did: ` +
                'whether close() wakes the consumer depends on what it read of the channel, and what it read here came before the consumer ' +
                'emptied the ring and fell asleep. Moving TAIL wakes no sleeper: notify TAIL every time you move it, whatever the ring looked like.'
              : 'close() called no Atomics.notify on TAIL: moving TAIL wakes no sleeper. Notify TAIL every time you move it.'
            : stillAsleep && sleptOn === 'TAIL' && tail === expecting
              ? `TAIL still holds ${tail}, the value the consumer sleeps on: close() returned without moving TAIL past the consumer's position.`
              : '';
        throw new Error(
          `${stillAsleep ? 'lost wake-up in close()' : 'the end never came'}: ${heldAt}, with the one item sent still in the ring. Meanwhile the consumer took that item` +
            (sleeping
              ? ` and fell asleep on the emptied ring (a wait on ${sleptOn}, expecting ${expecting}).`
              : ', and did not fall asleep on the header before close() went on.') +
            ` Then close() went on and returned; its Atomics calls on the header after the hold: ${after.join('; ') || 'none'}. ` +
            `${STALL_MS / 1000} s later the consumer had not received the end of the stream: it was ` +
            (stillAsleep
              ? `still asleep on ${sleptOn}, expecting ${expecting}, with ${pipe.indices}, END ${Atomics.load(pipe.channel.header, END)}. `
              : `not asleep on the header, with ${pipe.indices}, END ${Atomics.load(pipe.channel.header, END)}. `) +
            `${cause} (Both threads have been stopped.)\n${pipe.timeline.toText()}\n`,
        );
      }
      pipe.expectWholeStream(await pipe.finish());
      await pipe.producerFinished();
    }
  });

  test('close() on a full channel ends the stream after every item already sent', { timeout: 30_000 }, async () => {
    // The consumer is held before its first receive, so the producer's 16 sends fill the ring and
    // its close() finds no room. The producer's harness lets the consumer go on the moment its
    // thread waits on the header; a close() that does not wait is let through once it has returned.
    const pipe = new Pipe(CAPACITY, { pauseAfter: 0, releaseConsumerOnWait: true });
    const closing = await settlementWithin(pipe.producer!.next('done'), 10_000);
    if (closing.state === 'rejected') throw closing.reason;
    const waited = Atomics.load(pipe.control, CONSUMER_GATE) === 1;
    if (closing.state === 'pending') {
      throw new Error(
        waited
          ? `close() on a full channel went to sleep on the header, the test let the consumer go on then, and 10 s later close() had ` +
              `still not returned (${Atomics.load(pipe.control, RECEIVED)} items received, ${pipe.indices}): the room the consumer made ` +
              'never woke it. Sleep on HEAD while the ring is full, and have receive() notify HEAD once it has moved it. (Both threads have been stopped.)'
          : `close() on a full channel (${CAPACITY} items sent, none received) had not returned 10 s later, and its thread never waited on the ` +
              'header (Atomics.wait or Atomics.waitAsync), which is when this test lets the held consumer go on. A close() that waits for room ' +
              'some other way (a busy loop, or a wait on an array of its own) never sees it. (Both threads have been stopped.)',
      );
    }
    openGate(pipe.control, CONSUMER_GATE);
    const report = await pipe.finish();
    const wrong = report.firstWrong;
    expect(
      { missing: report.missing, duplicated: report.duplicated, strange: report.strange, firstWrong: wrong },
      `close() was called on a full channel (${CAPACITY} items sent, none received yet: the consumer was held before its first receive)` +
        (waited ? '' : ' and returned without waiting for room') +
        `. Once the consumer went on, it received ${report.received} items for the ${CAPACITY} sent: ${report.missing} never came, ` +
        `${report.strange} were values never sent` +
        (wrong ? `; the first wrong one was at position ${wrong.position}: expected ${wrong.expected}, got ${String(wrong.got)}` : '') +
        '. Only close() ran while the ring was full, and an item not yet received was lost: close() ends the stream after the items ' +
        'already sent, and its end marker takes the next position like an item, so on a full ring it waits for room as send() does.' +
        `\n${pipe.timeline.toText()}\n`,
    ).toEqual({ missing: 0, duplicated: 0, strange: 0, firstWrong: undefined });
    pipe.expectWholeStream(report);
    await pipe.producerFinished();
  });

  test('a thread that notifies has moved that index first, in the same call', { timeout: 30_000 }, async () => {
    const pipe = new Pipe(2_000);
    let stalled: unknown;
    try {
      await pipe.until('ended');
    } catch (error) {
      stalled = error;
    }
    for (const [who, cells, call, index] of [
      ['producer', PRODUCER_CELLS, 'send() or close()', 'TAIL'],
      ['consumer', CONSUMER_CELLS, 'receive()', 'HEAD'],
    ] as Array<[string, SideCells, string, string]>) {
      const early = Atomics.load(pipe.control, cells.notifiedBeforeMove);
      expect(
        early,
        `The ${who}'s ${call} called Atomics.notify on ${index} before it stored the new ${index}, in ${n(early)} of its calls ` +
          `(it called Atomics.notify ${n(Atomics.load(pipe.control, cells.notifies))} times in all). A thread woken by that notify looks at ${index}, ` +
          `finds it unchanged, and goes back to sleep; the store that follows wakes nobody: a lost wake-up. ` +
          (stalled ? 'Here it left the stream stuck. ' : 'Here the sleeper happened to look late enough to see the store; on another run it sleeps forever. ') +
          `Store ${index} first, then notify.\n${pipe.timeline.toText()}\n`,
      ).toBe(0);
    }
    if (stalled) throw stalled;
    pipe.expectWholeStream(await pipe.finish());
    await pipe.producerFinished();
  });

  test('the producer writes the slot before it moves TAIL, and the consumer reads it before it moves HEAD', { timeout: 30_000 }, async () => {
    // The consumer's harness plays a producer that reuses each slot the moment it is freed.
    const pipe = new Pipe(2_000, { poisonFreedSlots: true });
    let stalled: unknown;
    try {
      await pipe.until('ended');
    } catch (error) {
      stalled = error;
    }
    const early = Atomics.load(pipe.control, PRODUCER_CELLS.outOfOrder);
    expect(
      early,
      `send() moved TAIL while the new item's slot did not hold it yet, in ${n(early)} of its ${n(pipe.sent)} calls (this test looked at the slot ` +
        'the moment TAIL moved). A consumer that sees the new TAIL may read the slot before the item is in it, and receive what the slot held ' +
        `before. Write the slot first, then move TAIL: moving it is what hands the slot over.\n${pipe.timeline.toText()}\n`,
    ).toBe(0);
    const late = Atomics.load(pipe.control, CONSUMER_CELLS.outOfOrder);
    expect(
      late,
      `receive() returned ${n(late)} items that it read after moving HEAD past their slot. This test played a producer that reuses a slot the ` +
        `moment HEAD frees it (it wrote ${POISON} there just before your receive() moved HEAD), and receive() returned ${POISON}. Once HEAD ` +
        `has moved, the slot belongs to the producer: read the item first, then move HEAD.\n${pipe.timeline.toText()}\n`,
    ).toBe(0);
    if (stalled) throw stalled;
    pipe.expectWholeStream(await pipe.finish());
    await pipe.producerFinished();
  });

  test('a waiting thread sleeps until the other side notifies it, never waking on a timeout', { timeout: 30_000 }, async () => {
    const message = (who: string, waitingFor: string, cells: SideCells, other: SideCells, control: Int32Array, timeline: Timeline) => {
      const timedOut = Atomics.load(control, cells.timedOut);
      return (
        `While the ${who} waited ${waitingFor}, ${n(timedOut)} of its Atomics.wait calls returned 'timed-out' ` +
        `(the other side called Atomics.notify ${n(Atomics.load(control, other.notifies))} times in all): it woke itself on a timer and looked again, ` +
        'instead of sleeping until it was notified. Polling like this answers late, wakes the thread for nothing, and hides a missing Atomics.notify. ' +
        `Wait without a timeout, and notify the index after every move of it.\n${timeline.toText()}\n`
      );
    };

    // The consumer on an empty channel, for a while; then the test thread sends 10 items and closes.
    const empty = new Pipe(10, { producer: false });
    await within(10_000, empty.consumer.next('started'), 'the consumer thread never started');
    await empty.consumer.watch(sleep(200));
    empty.produceHere();
    empty.expectWholeStream(await empty.finish());
    expect(
      Atomics.load(empty.control, CONSUMER_CELLS.timedOut),
      message('consumer', 'on an empty channel', CONSUMER_CELLS, PRODUCER_CELLS, empty.control, empty.timeline),
    ).toBe(0);

    // The producer on a full channel, for a while; then the consumer goes on.
    const pauseAfter = 5;
    const full = new Pipe(200, { pauseAfter });
    await full.until('paused');
    for (let waited = 0; full.sent < pauseAfter + CAPACITY && !full.producer!.has('done') && waited < 2_000; waited += 5) {
      await full.producer!.watch(sleep(5));
    }
    await full.producer!.watch(sleep(200));
    openGate(full.control, CONSUMER_GATE);
    full.expectWholeStream(await full.finish());
    await full.producerFinished();
    expect(
      Atomics.load(full.control, PRODUCER_CELLS.timedOut),
      message('producer', 'for room', PRODUCER_CELLS, CONSUMER_CELLS, full.control, full.timeline),
    ).toBe(0);
  });

  test('channels of 1 and of 5 slots (not a power of two) hold exactly that many, and carry every item in order', { timeout: 30_000 }, async () => {
    for (const capacity of [1, 5]) {
      // The consumer is held before its first item: the producer must stop with the ring full. Its
      // harness lets the consumer go on the moment the producer first sleeps on the header, and
      // keeps how many sends had returned then: the count does not depend on how fast either runs.
      const pipe = new Pipe(300, { capacity, pauseAfter: 0, releaseConsumerOnWait: true });
      await pipe.until('paused');
      const waitedOnHeader = () => Atomics.load(pipe.control, CONSUMER_GATE) === 1;
      for (let waited = 0; !waitedOnHeader() && !pipe.producer!.has('done') && waited < 2_000; waited += 5) {
        await pipe.producer!.watch(sleep(5));
      }
      // A producer that never sleeps on the header (it spins, or naps on an array of its own) is judged by the sends that returned.
      const sent = waitedOnHeader() ? Atomics.load(pipe.control, SENT_AT_FIRST_WAIT) : pipe.sent;
      const picture = `\n${pipe.timeline.toText()}\n`;
      expect(
        sent,
        `createChannel(${capacity}): with the consumer paused before its first item, ${sent} sends returned (${pipe.indices}). ` +
          `A ring of ${capacity} slots holds ${capacity} unreceived items: ` +
          (sent > capacity
            ? `the producer went on past a full ring and overwrote ${sent - capacity} of them. Is the ring full at a fixed 16, or at slots.length?`
            : `the producer stopped early. The ring is full when TAIL - HEAD === capacity (slots.length).`) +
          picture,
      ).toBe(capacity);
      openGate(pipe.control, CONSUMER_GATE);
      const report = await pipe.finish();
      pipe.expectWholeStream(report);
      await pipe.producerFinished();
    }
  });
  test('after the end, receive() through another copy of the channel, on this thread or another, returns undefined at once', { timeout: 30_000 }, async () => {
    const channel = createChannel(4);
    const timeline = new Timeline();
    // What a worker gets in workerData, or a thread that is posted the Channel again: new arrays over the same shared memory.
    const copy = structuredClone(channel);
    // On the test thread nothing here has to wait: each receive finds an item or the end.
    const restoreWait = cutWaitsShort(channel, copy);
    const step = (label: string, work: () => unknown) =>
      valueWithin(
        2_000,
        (async () => work())(),
        `${label} never returned, on a channel of 4 slots that had room (or an item, or the end) for it`,
        (reason) =>
          `${label} threw ${shownReason(reason)}, where the test expected it to return: send 1, close, and two receives on the test thread, ` +
          'through a channel of 4 slots, never have to wait.',
      );
    const received: unknown[] = [];
    let afterEnd: unknown;
    let header = '';
    try {
      await step('send(channel, 1)', () => send(channel, 1));
      await step('close(channel)', () => close(channel));
      received.push(await step('receive(channel)', () => receive(channel)));
      received.push(await step('receive(channel) at the end', () => receive(channel)));
      const [head, end] = [Atomics.load(channel.header, HEAD), Atomics.load(channel.header, END)];
      header =
        `HEAD ${head}, TAIL ${Atomics.load(channel.header, TAIL)}, END ${end}` +
        (end >= 0 && head > end ? ': HEAD had been moved past the end marker, so the shared memory no longer showed the end where HEAD points' : '');
      afterEnd = await valueWithin(
        2_000,
        (async () => receive(copy))(),
        `After the end of the stream, receive() through another copy of the channel (new arrays over the same shared memory, as a worker gets it) ` +
          `had not returned 2 s later (the header after the end: ${header}), where every receive after the end returns undefined at once.`,
        (reason) =>
          'After the end of the stream, receive() through another copy of the channel (new arrays over the same shared memory, as a worker ' +
          `or a Channel posted again gets it) ${
            reason instanceof Error && reason.message.startsWith('it went to sleep')
              ? 'went to sleep in Atomics.wait on the header (the test cut the wait short at 200 ms)'
              : `threw ${shownReason(reason)}`
          }, where it must return undefined at once, as receive() through the first copy had (the header after the end: ${header}). ` +
          'The copies share nothing but that memory: whatever told the first one that the stream had ended was not in it.',
      );
    } finally {
      restoreWait();
    }
    expect(received, 'send 1, close, then two receives on the test thread: expected 1, then undefined at the end.').toEqual([1, undefined]);
    expect(
      afterEnd,
      `After the end of the stream, receive() through another copy of the channel returned ${String(afterEnd)} (the header after the end: ${header}), ` +
        'where it must return undefined, as on every call after the end.',
    ).toBeUndefined();
    // And on another thread: a consumer started now gets its own copy in workerData, and its first two receives come after the end.
    const late = new Side(consumerUrl, { channel, control: createControl(), count: 0 }, timeline, 'consumer started after the end');
    await within(10_000, late.next('started'), 'the consumer thread never started');
    const lateWait = (which: string) =>
      `A consumer thread started after the end of the stream (the header: ${header}) called receive() through its own copy of the channel ` +
      `(workerData: new arrays over the same shared memory), and ${which} had not returned 3 s later: it waits for an item that will never come. ` +
      'Every receive after the end, through any copy of the channel, on any thread, must find the end in the shared header.';
    await within(3_000, late.next('ended'), lateWait('its first receive()'));
    const done = await within(3_000, late.next('done'), lateWait('its second receive(), after the first had returned undefined,'));
    expect(
      { received: done.report!.received, afterEnd: done.report!.afterEnd },
      'A consumer thread started after the end of the stream must receive no item, and undefined from both of its receives.',
    ).toEqual({ received: 0, afterEnd: undefined });
  });
});

describe('channel on the test thread', () => {
  test('reads and writes HEAD, TAIL and END only with Atomics', async () => {
    const channel = createChannel(4);
    const names = ['HEAD', 'TAIL', 'END'];
    const plain: string[] = [];
    let call = 'createChannel';
    const probe = watchIndexedAccess(channel.header, {
      afterRead: (index) => plain.push(`${call} read header[${names[index] ?? index}]`),
      beforeWrite: (index) => plain.push(`${call} wrote header[${names[index] ?? index}]`),
    });
    const watched: Channel = { header: probe.proxy, slots: channel.slots };
    // Every Atomics function gets the real header in place of the stand-in, which they refuse.
    // A wait that would sleep here (nothing in this sequence has to) is cut short.
    const atomics = Atomics as unknown as Record<string, (...args: unknown[]) => unknown>;
    const originals = Object.getOwnPropertyNames(Atomics)
      .filter((name) => typeof atomics[name] === 'function')
      .map((name) => [name, atomics[name]!] as const);
    let sleptFor: string | undefined;
    for (const [name, original] of originals) {
      atomics[name] = (...args: unknown[]) => {
        if (args[0] !== probe.proxy) return original(...args);
        const real = [channel.header, ...args.slice(1)];
        if (name === 'wait') {
          real[3] = Math.min(Number(args[3] ?? Infinity), 200);
          const result = original(...real);
          if (result === 'timed-out') sleptFor ??= call;
          return result;
        }
        return original(...real);
      };
    }
    const results: unknown[] = [];
    try {
      const step = async (label: string, work: () => unknown) => {
        call = label;
        return valueWithin(
          2_000,
          (async () => work())(),
          `${label} never returned, on a channel of 4 slots that had room (or items) for it`,
          (reason) =>
            `${label} threw ${shownReason(reason)}, where the test expected it to return: send 1, send 2, receive, close and three receives, ` +
            'on one thread, on a channel of 4 slots, each find room (or an item, or the end) and have nothing to fail on.',
        );
      };
      await step('send(channel, 1)', () => send(watched, 1));
      await step('send(channel, 2)', () => send(watched, 2));
      results.push(await step('receive(channel)', () => receive(watched)));
      await step('close(channel)', () => close(watched));
      results.push(await step('receive(channel)', () => receive(watched)));
      results.push(await step('receive(channel) at the end', () => receive(watched)));
      results.push(await step('receive(channel) after the end', () => receive(watched)));
    } finally {
      for (const [name, original] of originals) atomics[name] = original;
    }
    expect(
      plain,
      `The header was read or written with plain indexing: ${[...new Set(plain)].join('; ')} (${plain.length} in all, over send, send, receive, close and ` +
        'three receives on one thread). A plain read or write of a cell that another thread changes is not ordered with the other ' +
        "thread's writes: the consumer may see the new TAIL before the item in its slot, or the producer see HEAD move before the slot " +
        'was read, and the JIT may keep a plain read in a register. Read and write HEAD, TAIL and END only with Atomics.load and Atomics.store.',
    ).toEqual([]);
    expect(sleptFor, `${sleptFor} went to sleep in Atomics.wait although the channel had room (or an item, or the end) for it.`).toBeUndefined();
    expect(
      { received: results, END: realAtomics.load(channel.header, END) },
      'send 1, send 2, receive, close, receive, receive, receive on one thread: expected 1, 2, then undefined at the end and after it, ' +
        'with END at position 2 (where the end marker went).',
    ).toEqual({ received: [1, 2, undefined, undefined], END: 2 });
  });

  test('carries 0, negative numbers, fractions, NaN and Infinity as they were sent', async () => {
    const values = [0, -1, -1.5, 2.25, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    const list = values.map(String).join(', ');
    const channel = createChannel(8);
    // 8 slots hold the 7 items and the end: nothing here has to wait.
    const restoreWait = cutWaitsShort(channel);
    const step = (label: string, work: () => unknown) =>
      valueWithin(
        2_000,
        (async () => work())(),
        `${label} never returned, on a channel of 8 slots that had room (or an item, or the end) for it`,
        (reason) =>
          `${label} threw ${shownReason(reason)}, where the test expected it to return: sending ${list}, closing, and receiving them ` +
          'back on one thread, through a channel of 8 slots, never has to wait.',
      );
    const received: unknown[] = [];
    try {
      for (const value of values) await step(`send(channel, ${value})`, () => send(channel, value));
      await step('close(channel)', () => close(channel));
      for (let index = 0; index <= values.length; index += 1) received.push(await step('receive(channel)', () => receive(channel)));
    } finally {
      restoreWait();
    }
    const endedAt = received.indexOf(undefined);
    expect(
      received,
      `send ${list}, close, then ${values.length + 1} receives on one thread returned ${received.map(String).join(', ')}` +
        (endedAt >= 0 && endedAt < values.length
          ? `: the stream ended at the item ${values[endedAt]}. send() takes any number, 0, negative numbers, fractions, NaN and ` +
            'Infinity included, so no value may stand for the end of the stream: close() marks the end by its position (END).'
          : ', where each number should come back as it was sent, in order, and then undefined for the end.'),
    ).toEqual([...values, undefined]);
  });

  test('END holds the position of the end marker, counted from the start of the stream, also once the ring has gone round', async () => {
    const capacity = 3;
    const items = [1, 2, 3, 4, 5];
    const channel = createChannel(capacity);
    // Each send is received at once, so nothing here has to wait; the end marker goes to position 5,
    // which is slot 2 of this 3-slot ring.
    const restoreWait = cutWaitsShort(channel);
    const step = (label: string, work: () => unknown) =>
      valueWithin(
        2_000,
        (async () => work())(),
        `${label} never returned, on a channel of ${capacity} slots that had room (or an item, or the end) for it`,
        (reason) =>
          `${label} threw ${shownReason(reason)}, where the test expected it to return: sending 1 to 5 on one thread, each received ` +
          `before the next is sent, then closing and receiving the end, through a channel of ${capacity} slots, never has to wait.`,
      );
    const received: unknown[] = [];
    let end: number | undefined;
    try {
      for (const item of items) {
        await step(`send(channel, ${item})`, () => send(channel, item));
        received.push(await step('receive(channel)', () => receive(channel)));
      }
      await step('close(channel)', () => close(channel));
      end = Atomics.load(channel.header, END);
      received.push(await step('receive(channel) at the end', () => receive(channel)));
    } finally {
      restoreWait();
    }
    const position = items.length;
    expect(
      received,
      `On a channel of ${capacity} slots, sending and receiving 1 to 5 in turn, then close and a receive, gave ` +
        `${received.map(String).join(', ')}, where 1 to 5 and then undefined for the end were expected.`,
    ).toEqual([...items, undefined]);
    expect(
      end,
      `After 5 items had gone through a channel of ${capacity} slots, close() left END at ${end}, where the end marker's position is ` +
        `${position} (TAIL was ${position} when close() began; the marker sits in slot ${position % capacity} of the ring). ` +
        (end === position % capacity
          ? 'END holds the slot of the marker (position % capacity), not its position: END counts positions from the start of the ' +
            'stream, as HEAD and TAIL do; only the slot index wraps around the ring.'
          : 'END must hold the position at which close() put the end marker, counted from the start of the stream as HEAD and TAIL are.'),
    ).toBe(position);
  });
});
