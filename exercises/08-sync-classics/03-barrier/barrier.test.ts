import { afterEach, describe, expect, test } from 'vitest';
import { type HarnessMessage, HarnessWorker, lookAtThread, runTogether } from '#kata/testing/harness-worker.ts';
import { measured, until as pollUntil, sleep, Timeline } from '#kata/testing/index.ts';
import { controlCells as c, type HarnessData, NEVER_WAITED, SEEN } from './control.harness.ts';

// Every call into your Barrier runs in a worker (barrier.harness.ts): a barrier that never lets a
// thread out must not freeze the test's own thread, and a worker can be stopped when its time is up.
const harness = new URL('./barrier.harness.ts', import.meta.url);
const sharedInts = (length: number) => new Int32Array(new SharedArrayBuffer(length * Int32Array.BYTES_PER_ELEMENT));
const n = (value: number) => value.toLocaleString('en-US');
const plural = (count: number, what: string) => `${n(count)} ${what}${count === 1 ? '' : 's'}`;
/** "A", "A and B", "A, B and C" */
const names = (list: string[]) => (list.length < 2 ? list.join('') : `${list.slice(0, -1).join(', ')} and ${list.at(-1)}`);

function newControl(): Int32Array {
  const control = sharedInts(Object.keys(c).length);
  control[c.lastWaitCell] = NEVER_WAITED;
  control[c.lastNotifyCell] = NEVER_WAITED;
  return control;
}

/** Of the Atomics calls a harness described, those that write to the barrier's cells. */
const writesToCells = (calls: string[]) => calls.filter((call) => /^Atomics\.(store|add|sub|exchange|compareExchange|and|or|xor)\(cells/.test(call));

/** Polls `condition` every few ms, for at most `ms`; true if it came true. Throws a party's failure (the stub's error included) at once. */
async function until(condition: () => boolean, ms: number, parties: Party[] = []): Promise<boolean> {
  const check = () => {
    for (const party of parties) party.throwIfFailed();
  };
  const met = await pollUntil(condition, ms, { check });
  // A thread's 'left' message comes after what it did next in shared memory (it may be asleep in
  // the next round already): let the messages catch up, so that what the test reads next agrees.
  await pollUntil(() => parties.every((party) => party.messagesCaughtUp), 2_000, { check });
  return met;
}

const started: HarnessWorker[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((worker) => worker.terminate()));
});

/**
 * One thread of the test, in a harness worker, taking part in the barrier: it builds its Barrier at
 * once, then arrives in round r when the test says so (`go`), and reports each arrival and departure.
 */
class Party {
  readonly name: string;
  readonly worker: HarnessWorker;
  readonly control = newControl();
  #failure: Error | undefined;

  constructor(name: string, scene: Scene, options: Partial<HarnessData> = {}) {
    this.name = name;
    this.worker = new HarnessWorker(harness, {
      role: 'party',
      memory: scene.memory,
      control: this.control,
      parties: scene.parties,
      index: scene.index,
      rounds: 1,
      ...options,
    } satisfies HarnessData);
    started.push(this.worker);
    const ends = new Map<number, () => unknown>();
    this.worker.worker.on('message', (message: HarnessMessage) => {
      if (message.type === 'arriving')
        ends.set(Number(message.round), scene.timeline.begin(`${name} in round ${Number(message.round) + 1}`, { threadId: this.worker.threadId }));
      if (message.type === 'left') ends.get(Number(message.round))?.();
    });
    this.worker.worker.on('error', (error) => (this.#failure ??= error));
    this.worker.worker.on('exit', () => {
      if (!this.worker.find('done')) this.#failure ??= new Error(`The test's harness worker for thread ${name} exited before it finished.`);
    });
  }

  throwIfFailed(): void {
    if (this.#failure) throw this.#failure;
  }

  /** Lets the thread begin rounds up to `rounds` (it arrives in round r once go > r). */
  go(rounds: number): void {
    Atomics.store(this.control, c.go, rounds);
    Atomics.notify(this.control, c.go);
  }

  resume(): void {
    Atomics.store(this.control, c.resume, 1);
    Atomics.notify(this.control, c.resume);
  }

  cell(name: keyof typeof c): number {
    return Atomics.load(this.control, c[name]);
  }

  arrivedIn(round: number): boolean {
    return this.worker.received.some((message) => message.type === 'arriving' && message.round === round);
  }

  left(round: number): HarnessMessage | undefined {
    return this.worker.received.find((message) => message.type === 'left' && message.round === round);
  }

  get asleep(): boolean {
    return this.cell('parked') === 1;
  }

  /** Whether it has left `round`, from shared memory: known at once, where its 'left' message may still be on its way. */
  hasLeft(round: number): boolean {
    return this.cell('roundsLeft') > round;
  }

  /** Whether a 'left' message has come for every round it has left. */
  get messagesCaughtUp(): boolean {
    return this.worker.received.filter((message) => message.type === 'left').length >= this.cell('roundsLeft');
  }

  get paused(): HarnessMessage | undefined {
    return this.worker.find('paused');
  }

  /** The Atomics calls it made after a pause, as the harness described them. */
  get callsAfterPause(): string[] {
    return this.worker.received.filter((message) => message.type === 'call').map((message) => String(message.line));
  }

  /** Waits until the thread (told to) calls arriveAndWait() for `round`: a worker takes a second or two to start on a busy machine. */
  async arrival(round: number): Promise<void> {
    if (!(await until(() => this.arrivedIn(round), 10_000, [this]))) {
      const previous =
        round > 0 && !this.left(round - 1) ? `: it was still in round ${round} (its arriveAndWait() never returned)` : ' (its worker did not start)';
      throw new Error(`Thread ${this.name} never arrived in round ${round + 1} within 10 s${previous}.`);
    }
  }

  /**
   * Waits until the thread, told to arrive in `round`, is asleep in Atomics.wait there or has
   * left the round, for at most `ms` after its arrival (a thread that spins is given the whole of it).
   */
  async settle(round: number, ms = 2_000): Promise<'asleep' | 'left' | 'awake'> {
    await this.arrival(round);
    const since = performance.now();
    await until(() => this.hasLeft(round) || this.asleep, ms, [this]);
    if (this.hasLeft(round)) return 'left';
    if (this.asleep) measured('barrier: ms from a call of arriveAndWait() to its sleep in Atomics.wait', performance.now() - since, ms);
    return this.asleep ? 'asleep' : 'awake';
  }
}

/** The memory a test's barrier lives in, the parties, and a timeline of their rounds. */
class Scene {
  readonly timeline = new Timeline();
  readonly parties: number;
  readonly memory: Int32Array;
  /** The barrier's first cell. */
  readonly index: number;
  readonly members: Party[] = [];

  constructor(parties: number, { memory = sharedInts(2), index = 0 }: { memory?: Int32Array; index?: number } = {}) {
    this.parties = parties;
    this.memory = memory;
    this.index = index;
  }

  join(name: string, options: Partial<HarnessData> = {}): Party {
    const party = new Party(name, this, options);
    this.members.push(party);
    return party;
  }

  /** The barrier's two cells as they are now. */
  get cells(): string {
    return `[${Atomics.load(this.memory, this.index)}, ${Atomics.load(this.memory, this.index + 1)}]`;
  }

  /**
   * Lets `sleeper` (told it may go 2 rounds) arrive in round 1 before `other`, and expects it asleep
   * there: the sleeper a test needs before it can watch one woken (`toWatch`: what the test does to it).
   */
  async asleepInRoundOne(sleeper: Party, other: Party, toWatch: string): Promise<void> {
    sleeper.go(2);
    const state = await sleeper.settle(0);
    expect(state, `With 2 parties, thread ${sleeper.name} left round 1 before thread ${other.name} arrived.\n${this.timeline.toText()}\n`).not.toBe('left');
    expect(
      state,
      `Thread ${sleeper.name}, waiting for thread ${other.name} in round 1, never fell asleep in Atomics.wait, so this test has no sleeper to ${toWatch} ` +
        `(a waiting thread should sleep).\n${this.timeline.toText()}\n`,
    ).toBe('asleep');
  }

  /** Waits up to `ms` for each of `parties` to leave `round`; returns those still inside. */
  async stillInside(parties: Party[], round: number, ms = 3_000): Promise<Party[]> {
    for (const party of parties) await party.arrival(round);
    await until(() => parties.every((party) => party.left(round)), ms, parties);
    return parties.filter((party) => !party.left(round));
  }

  /**
   * Why `party` is still in arriveAndWait(), from what the harness saw: whether it sleeps, on
   * which cell and expecting which value, and what the other parties notified. It names a cause
   * only where those observations show one.
   */
  whyStill(party: Party): string {
    const waitCell = party.cell('lastWaitCell');
    const waitValue = party.cell('lastWaitValue');
    const others = this.members.filter((other) => other !== party);
    const notifies = others.reduce((sum, other) => sum + other.cell('notifies'), 0);
    const elsewhere = others.reduce((sum, other) => sum + other.cell('notifiesElsewhere'), 0);
    const notifiedCells = [...new Set(others.filter((other) => other.cell('notifies') > 0).map((other) => other.cell('lastNotifyCell')))];
    const notified =
      `the other threads called Atomics.notify on the barrier's cells ${plural(notifies, 'time')}` +
      (notifiedCells.length > 0 ? ` (on cell ${notifiedCells.join(' and ')})` : '') +
      (elsewhere ? ` and elsewhere ${plural(elsewhere, 'time')}` : '');
    if (!party.asleep) {
      return `Thread ${party.name} was not asleep in Atomics.wait${waitCell === NEVER_WAITED ? ' (it never called it)' : ''}: its arriveAndWait() is still looping, with the barrier's cells at ${this.cells}.`;
    }
    if (waitCell === -1)
      return `Thread ${party.name} is asleep in Atomics.wait on another array than the barrier's memory, where no Atomics.notify of the barrier reaches it: wait on the barrier's own cells.`;
    const now = Atomics.load(this.memory, waitCell);
    if (waitCell !== this.index && waitCell !== this.index + 1) {
      return `Thread ${party.name} is asleep in Atomics.wait on cell ${waitCell}, outside the barrier's cells ${this.index} and ${this.index + 1}; ${notified}.`;
    }
    if (notifies === 0) {
      return (
        `Thread ${party.name} is asleep in Atomics.wait(cells, ${waitCell}, ${waitValue}), and no other thread ever called Atomics.notify on the barrier's cells` +
        `${elsewhere ? ` (they notified elsewhere ${plural(elsewhere, 'time')})` : ''}. A thread asleep in Atomics.wait wakes only when notified: the last arrival must wake the sleepers.`
      );
    }
    if (!notifiedCells.includes(waitCell)) {
      return `Thread ${party.name} is asleep in Atomics.wait on cell ${waitCell}, but ${notified}: Atomics.notify wakes only the threads asleep on the cell it names.`;
    }
    return (
      `Thread ${party.name} is asleep in Atomics.wait(cells, ${waitCell}, ${waitValue}), and the cell now holds ${now}; ${notified}` +
      (now === waitValue ? '. It waits for a change that has not come.' : ', none of them while it slept, or too few to wake it.')
    );
  }
}

// A wrong answer may spend a few seconds at each step before the test gives up on it (every wait is bounded).
describe('Barrier', { timeout: 30_000 }, () => {
  test('with parties = 1, every call returns true at once, round after round, without sleeping', async () => {
    const memory = sharedInts(4);
    memory.set([5, 0, 0, 6]);
    const thread = new HarnessWorker(harness, { role: 'solo', memory, control: newControl(), parties: 1, index: 1, rounds: 1_000 } satisfies HarnessData);
    started.push(thread);
    const done = await thread.message(
      'done',
      10_000,
      'With parties = 1, 1,000 calls of arriveAndWait() in one thread did not all return within 10 s: a barrier of one party has nobody to wait for',
    );
    const refused = done.refused as string | undefined;
    expect(refused, `new Barrier(memory, 1, 1) threw ${refused}: one party is allowed, and every arriveAndWait() of it returns at once.`).toBeUndefined();
    expect(done.results, 'With parties = 1, every arriveAndWait() is the last arrival of its round: it must return true, every time.').toEqual([true]);
    expect(
      done.slept,
      `With parties = 1, arriveAndWait() slept in Atomics.wait ${plural(Number(done.slept), 'time')} in 1,000 rounds: the only party is always the last arrival, and the last arrival never waits.`,
    ).toBe(0);
    const after = done.memory as number[];
    expect([after[0], after[3]], 'new Barrier(memory, 1, 1) must use cells 1 and 2 only: cells 0 and 3 held 5 and 6.').toEqual([5, 6]);
  });

  test('refuses a number of parties that is not a positive integer with a RangeError', async () => {
    const memory = sharedInts(2);
    const thread = new HarnessWorker(harness, { role: 'arguments', memory, control: newControl(), parties: 1, index: 0, rounds: 0 } satisfies HarnessData);
    started.push(thread);
    const done = await thread.message('done', 10_000, 'Building barriers with bad arguments did not end within 10 s');
    expect(
      done.outcomes,
      'new Barrier(memory, parties) must throw a RangeError when parties is not a positive integer: no round of 0, -1 or 1.5 threads can ever complete, ' +
        'and a thread that waited in one would wait forever.',
    ).toEqual({
      'new Barrier(memory, 0)': 'RangeError',
      'new Barrier(memory, -1)': 'RangeError',
      'new Barrier(memory, 1.5)': 'RangeError',
      'new Barrier(memory, NaN)': 'RangeError',
      'new Barrier(memory, Infinity)': 'RangeError',
      'new Barrier(memory, -Infinity)': 'RangeError',
    });
  });

  test('no thread leaves before the last of the parties has arrived', async () => {
    const scene = new Scene(3);
    // A is held right after its arrival (its first write to the barrier's memory), before it can sleep, until B has arrived too.
    const a = scene.join('A', { pauseAfterWrite: { round: 0, writes: 1 } });
    const [b, last] = [scene.join('B'), scene.join('C')];
    a.go(1);
    await a.arrival(0);
    await until(() => a.paused !== undefined || a.left(0) !== undefined || a.asleep, 3_000, [a]);
    b.go(1);
    await b.settle(0);
    a.resume();
    await a.settle(0);
    // Hold the last party back a little longer.
    await sleep(200);
    const early = [a, b].filter((party) => party.left(0));
    expect(
      early.map((party) => party.name),
      `With 3 parties, threads A and B had arrived and thread C had not, yet ${names(early.map((party) => party.name))} left the barrier ` +
        `(arriveAndWait() returned ${early.map((party) => String(party.left(0)!.result)).join(', ')}) before the last party arrived` +
        (a.paused && a.left(0) ? ` (the test held A right after its arrival, ${String(a.paused.after)}, until B had arrived too)` : '') +
        `. A thread may leave only once all 3 have arrived; the barrier's cells held ${scene.cells}.\n${scene.timeline.toText()}\n`,
    ).toEqual([]);
    last.go(1);
    const inside = await scene.stillInside([a, b, last], 0);
    expect(
      inside.map((party) => party.name),
      `wake-up: all 3 parties had arrived, yet ${names(inside.map((party) => party.name))} ${inside.length === 1 ? 'was' : 'were'} still in arriveAndWait() 3 s later. ` +
        `${inside.map((party) => scene.whyStill(party)).join(' ')}\n${scene.timeline.toText()}\n`,
    ).toEqual([]);
  });

  test('a thread waiting for the others sleeps instead of spinning', async () => {
    const scene = new Scene(2);
    const [a, b] = [scene.join('A'), scene.join('B')];
    a.go(1);
    await a.settle(0);
    // Watch the waiting thread for a while: the Atomics calls it makes, and whether Linux finds it ready to run.
    const calls = a.cell('calls');
    const cpu = await a.worker.cpuTimeMs();
    const since = performance.now();
    const [early, looks] = await Promise.all([until(() => a.left(0) !== undefined, 500, [a]), lookAtThread(a.worker.find('thread')?.proc, 500)]);
    const watched = performance.now() - since;
    const callsMade = a.cell('calls') - calls;
    const cpuAfter = await a.worker.cpuTimeMs();
    const cpuShare = cpu === undefined || cpuAfter === undefined ? undefined : (cpuAfter - cpu) / watched;
    expect(early, `Thread A left the barrier alone: with 2 parties, it returned before thread B arrived.\n${scene.timeline.toText()}\n`).toBe(false);
    b.go(1);
    const inside = await scene.stillInside([a, b], 0);
    // Asleep in Atomics.wait, a thread makes no calls and is never found ready to run; spinning, it
    // makes millions of calls a second (unless it spins on plain reads) and is always found ready to run.
    const callsPerMs = measured('barrier: Atomics calls per ms of a thread waiting in arriveAndWait()', callsMade / watched, 5);
    const runnable =
      looks && looks.looks > 0
        ? measured('barrier: share of looks finding a thread waiting in arriveAndWait() ready to run', looks.runnable / looks.looks, 0.5)
        : undefined;
    const spinning = callsPerMs >= 5 || (runnable === undefined ? (cpuShare ?? 0) >= 0.05 : runnable >= 0.5);
    expect(
      !spinning,
      `busy waiting: while thread B was held back for ${Math.round(watched)} ms, thread A, waiting in arriveAndWait(), made ${n(callsMade)} Atomics calls` +
        (looks ? ` and was found running or ready to run in ${looks.runnable} of ${looks.looks} looks` : '') +
        (cpuShare === undefined ? '' : `, using ${Math.round(cpuShare * 100)}% of a CPU`) +
        '. A loop that keeps checking until the round is over burns a core doing nothing, and takes it from the threads it is waiting for. ' +
        'Sleep instead: Atomics.wait(cells, i, value) sleeps while the cell still holds value, until another thread calls Atomics.notify on it.\n' +
        `${scene.timeline.toText()}\n`,
    ).toBe(true);
    expect(
      inside.map((party) => party.name),
      `wake-up: both parties had arrived, yet ${names(inside.map((party) => party.name))} ${inside.length === 1 ? 'was' : 'were'} still in arriveAndWait() 3 s later. ` +
        `${inside.map((party) => scene.whyStill(party)).join(' ')}\n${scene.timeline.toText()}\n`,
    ).toEqual([]);
  });

  test('the last arrival wakes every sleeping thread with Atomics.notify, and only it returns true', async () => {
    const scene = new Scene(4);
    const sleepers = [scene.join('A'), scene.join('B'), scene.join('C')];
    const last = scene.join('D');
    const states: string[] = [];
    for (const party of sleepers) {
      party.go(1);
      states.push(await party.settle(0));
    }
    // Hold the last party back a little longer: a thread that polls with a timed Atomics.wait times out meanwhile.
    await sleep(100);
    const early = sleepers.filter((party) => party.left(0));
    expect(
      early.map((party) => party.name),
      `With 4 parties, ${names(early.map((party) => party.name))} left before the last party (D) arrived.\n${scene.timeline.toText()}\n`,
    ).toEqual([]);
    last.go(1);
    const lastInside = await scene.stillInside([last], 0);
    expect(
      lastInside.length,
      `Thread D, the last of 4 parties to arrive, was still in arriveAndWait() 3 s later: the last arrival ends the round and returns, it has nobody to wait for. ${scene.whyStill(last)}\n${scene.timeline.toText()}\n`,
    ).toBe(0);
    const inside = await scene.stillInside(sleepers, 0);
    const asked = last.cell('askedToWake');
    const woken = last.cell('woken');
    const notifies = last.cell('notifies');
    expect(
      inside.map((party) => party.name),
      `wake-up: ${inside.length} of the 3 threads waiting in the barrier (${names(inside.map((party) => party.name))}) ${inside.length === 1 ? 'was' : 'were'} still in arriveAndWait() ` +
        '3 s after the last arrival (D) had returned. ' +
        (notifies > 0 && asked > 0 && asked < 3
          ? `D's Atomics.notify on the barrier's cells asked to wake ${n(asked)} and woke ${plural(woken, 'thread')}: Atomics.notify(cells, i, count) wakes at most count sleepers, ` +
            'and the round is over for every one of them. Wake them all: Atomics.notify(cells, i) with no count.'
          : inside.map((party) => scene.whyStill(party)).join(' ')) +
        `\n${scene.timeline.toText()}\n`,
    ).toEqual([]);
    expect(
      states,
      `Threads A, B and C got through, but not all of them slept in Atomics.wait while they waited for the last party (${states.join(', ')}), ` +
        'so this test had no sleepers to see woken. A waiting thread should sleep in Atomics.wait; the last arrival wakes it with Atomics.notify.\n' +
        `${scene.timeline.toText()}\n`,
    ).toEqual(['asleep', 'asleep', 'asleep']);
    const timedOut = sleepers.reduce((sum, party) => sum + party.cell('timedOut'), 0);
    expect(
      timedOut,
      `wake-up: the waiting threads got out, but not only because the last arrival woke them: ${plural(timedOut, 'Atomics.wait call')} of theirs returned 'timed-out' ` +
        `(D called Atomics.notify on the barrier's cells ${plural(notifies, 'time')}). Waiting with a timeout and looking again is polling: ` +
        'a wake-up per timeout, and a thread that oversleeps the end of the round. Wait without a timeout, and let the last arrival wake the sleepers with Atomics.notify.\n' +
        `${scene.timeline.toText()}\n`,
    ).toBe(0);
    const results = Object.fromEntries(scene.members.map((party) => [party.name, party.left(0)!.result]));
    expect(
      results,
      `arriveAndWait() returned true in ${names(scene.members.filter((party) => party.left(0)!.result === true).map((party) => party.name)) || 'no thread'}: it must return true in exactly one thread a round, ` +
        'the last to arrive (D here, which the test held back), and false in the others.',
    ).toEqual({ A: false, B: false, C: false, D: true });
  });

  test('the same barrier works round after round: in round 2 and 3 too, nobody leaves before the last arrives', async () => {
    const scene = new Scene(2);
    const a = scene.join('A', { rounds: 3 });
    const b = scene.join('B', { rounds: 3 });
    for (let round = 0; round < 3; round += 1) {
      // A arrives first in rounds 1 and 3, B in round 2.
      const [first, second] = round % 2 === 0 ? [a, b] : [b, a];
      const cellsBefore = scene.cells;
      first.go(round + 1);
      await first.settle(round);
      await sleep(100);
      const early = first.left(round);
      expect(
        early,
        round === 0
          ? `In round 1, thread ${first.name} left the barrier (returned ${String(early?.result)}) before thread ${second.name} arrived.\n${scene.timeline.toText()}\n`
          : `passed early in round ${round + 1}: thread ${first.name} left the barrier (returned ${String(early?.result)}) before thread ${second.name} had arrived in round ${round + 1}, ` +
              `though in round 1 it waited for the last arrival. The barrier's cells held ${cellsBefore} when round ${round + 1} began: whatever a round leaves ` +
              'in them must be the start of the next round, because the same cells serve every round.\n' +
              `${scene.timeline.toText()}\n`,
      ).toBeUndefined();
      second.go(round + 1);
      const inside = await scene.stillInside([first, second], round);
      expect(
        inside.map((party) => party.name),
        `${round === 0 ? 'In round 1' : `stuck in round ${round + 1}`}: both threads had arrived, yet ${names(inside.map((party) => party.name))} ` +
          `${inside.length === 1 ? 'was' : 'were'} still in arriveAndWait() 3 s later. ` +
          (round === 0 ? '' : `Round 1 worked; the barrier's cells held ${cellsBefore} when round ${round + 1} began, and the same cells serve every round. `) +
          `${inside.map((party) => scene.whyStill(party)).join(' ')}\n${scene.timeline.toText()}\n`,
      ).toEqual([]);
      expect(
        [first.left(round)!.result, second.left(round)!.result],
        `In round ${round + 1}, arriveAndWait() must return true in the last arrival (${second.name}) alone.`,
      ).toEqual([false, true]);
    }
  });

  test('a thread woken by the last arrival may race into the next round before the last arrival has returned, and it counts there', async () => {
    const scene = new Scene(2);
    // A is the last to arrive in round 1; right after its first Atomics.notify, the harness holds it there.
    const a = scene.join('A', { rounds: 2, pauseAfterNotify: 0 });
    const b = scene.join('B', { rounds: 2 });
    await scene.asleepInRoundOne(b, a, 'see woken');
    a.go(2);
    await a.arrival(0);
    await until(() => a.paused !== undefined || a.left(0) !== undefined, 3_000, [a, b]);
    expect(
      a.paused,
      a.left(0)
        ? `Thread A arrived last in round 1 and left without calling Atomics.notify, though thread B was asleep in Atomics.wait: nothing wakes a sleeper but a notify.\n${scene.timeline.toText()}\n`
        : `Thread A, the last to arrive in round 1, neither called Atomics.notify nor returned within 3 s. ${scene.whyStill(a)}\n${scene.timeline.toText()}\n`,
    ).toBeDefined();
    // A is held right after its notify. B, woken, leaves round 1 and arrives in round 2 at once.
    const held = performance.now();
    await until(() => b.left(0) !== undefined, 3_000, [a, b]);
    if (b.left(0)) measured("barrier: ms from the last arrival's notify to the woken thread leaving", performance.now() - held, 3_000);
    if (b.left(0)) await b.settle(1);
    const rewaits = b.cell('rewaits');
    expect(
      b.left(0),
      (rewaits > 0
        ? `went back to sleep: thread A, the last to arrive in round 1, called Atomics.notify and thread B woke up, but B found the round not over ` +
          `and went back to sleep (Atomics.wait(cells, ${b.cell('lastWaitCell')}, ${b.cell('lastWaitValue')}), the cell still holding that value). ` +
          "The test held A right after its notify, so whatever A does after notifying, B cannot see yet: A woke B before it ended the round, and B's wake-up was lost. " +
          'End the round first (the write that the sleepers wait for), then notify.'
        : `Thread A, the last to arrive in round 1, called Atomics.notify (the test held it right after that call), yet thread B did not leave round 1 within 3 s. ${scene.whyStill(b)}`) +
        `\n${scene.timeline.toText()}\n`,
    ).toBeDefined();
    expect(
      b.left(1),
      `passed round 2 alone: thread B left round 2 (returned ${String(b.left(1)?.result)}) while thread A, the other party, had not even returned from round 1 ` +
        `(the test held it right after its notify). The barrier's cells held ${scene.cells}.\n${scene.timeline.toText()}\n`,
    ).toBeUndefined();
    // Now let A finish round 1; it arrives in round 2, the last again.
    a.resume();
    const inside = await scene.stillInside([a, b], 1);
    const after = a.callsAfterPause;
    const writesAfter = writesToCells(after);
    expect(
      inside.map((party) => party.name),
      `lost arrival: thread B left round 1 and arrived in round 2 while thread A, the last arrival of round 1, was still inside its arriveAndWait() (the test held it right ` +
        `after its Atomics.notify). Then A went on, returned, and arrived in round 2 too; yet 3 s later ${names(inside.map((party) => party.name))} ` +
        `${inside.length === 1 ? 'was' : 'were'} still in arriveAndWait(), with the barrier's cells at ${scene.cells}. After its notify, A made these Atomics calls: ` +
        `${after.join('; ') || 'none'}. ` +
        (writesAfter.length > 0
          ? `Its ${plural(writesAfter.length, 'write')} to the barrier's cells after the release (${writesAfter.join('; ')}) landed in round 2, where B had already arrived: ` +
            "B's arrival was undone. Prepare the cells for the next round before you release anyone."
          : `${inside.map((party) => scene.whyStill(party)).join(' ')}`) +
        `\n${scene.timeline.toText()}\n`,
    ).toEqual([]);
    expect([a.left(0)!.result, b.left(0)!.result], 'In round 1, arriveAndWait() must return true in the last arrival (A) alone.').toEqual([true, false]);
  });

  test('a thread held between its arrival and its sleep still leaves when the last party arrives', async () => {
    const scene = new Scene(2);
    // Right after A's first Atomics call that writes to the barrier's memory (its arrival), the harness holds it there.
    const a = scene.join('A', { pauseAfterWrite: { round: 0, writes: 1 } });
    const b = scene.join('B');
    a.go(1);
    await a.arrival(0);
    await until(() => a.paused !== undefined || a.left(0) !== undefined || a.asleep, 3_000, [a, b]);
    expect(
      a.paused,
      a.left(0)
        ? `Thread A left the barrier before thread B arrived, without writing to the barrier's cells.\n${scene.timeline.toText()}\n`
        : `Thread A ${a.asleep ? 'went to sleep' : 'was still in arriveAndWait() 3 s later'} without any Atomics call that writes to the barrier's memory: ` +
            'an arrival that writes nothing cannot be counted by the others.\n' +
            `${scene.timeline.toText()}\n`,
    ).toBeDefined();
    b.go(1);
    await b.arrival(0);
    await until(() => b.left(0) !== undefined || b.asleep, 3_000, [a, b]);
    const bLeft = b.left(0);
    a.resume();
    const inside = await scene.stillInside([a, b], 0);
    const after = a.callsAfterPause;
    const waitCell = a.cell('lastWaitCell');
    const waitValue = a.cell('lastWaitValue');
    const stale = inside.includes(a) && a.asleep && waitCell >= 0 && Atomics.load(scene.memory, waitCell) === waitValue && bLeft !== undefined;
    expect(
      inside.map((party) => party.name),
      `Thread A was held right after its arrival (${String(a.paused!.after)}), before it could go to sleep; meanwhile thread B arrived` +
        (bLeft ? ` and left the barrier (returned ${String(bLeft.result)}): the round was over` : ` and ${b.asleep ? 'went to sleep' : 'waited'}`) +
        `. Let go, ${names(inside.map((party) => party.name))} ${inside.length === 1 ? 'was' : 'were'} still in arriveAndWait() 3 s later. ` +
        `After the pause, A made these Atomics calls: ${after.join('; ') || 'none'}. ` +
        (stale
          ? `A sleeps in Atomics.wait(cells, ${waitCell}, ${waitValue}), and cell ${waitCell} already held ${waitValue} when A was let go: the value the end of the round had ` +
            "written. A read what it waits on after its arrival, when the round could already be over, and now waits for the next round's end. " +
            'Read what you will wait on before you arrive.'
          : inside.map((party) => scene.whyStill(party)).join(' ')) +
        `\n${scene.timeline.toText()}\n`,
    ).toEqual([]);
  });

  test('a thread between its arrival and its sleep may see the round end at any step of the last arrival, race into the next round, and count there', {
    timeout: 40_000,
  }, async () => {
    // Three runs at once, each over a barrier of its own: thread B is held right after its arrival in
    // round 1; the last arrival, A, is held right after its 1st, 2nd or 3rd write to the barrier's cells.
    // Then B goes on (it may find the round over, leave, and arrive in round 2), and after it, A.
    const runs = [1, 2, 3].map((writes) => {
      const scene = new Scene(2);
      const b = scene.join('B', { rounds: 2, pauseAfterWrite: { round: 0, writes: 1 } });
      const a = scene.join('A', { rounds: 2, pauseAfterWrite: { round: 0, writes } });
      return { writes, scene, a, b };
    });
    const settled = await Promise.allSettled(
      runs.map(async ({ writes, scene, a, b }) => {
        b.go(2);
        await b.arrival(0);
        await until(() => b.paused !== undefined || b.left(0) !== undefined || b.asleep, 3_000, [a, b]);
        if (!b.paused)
          return {
            writes,
            problem: `Thread B ${b.left(0) ? 'left the barrier alone' : b.asleep ? 'went to sleep' : 'was still in arriveAndWait() 3 s later'} without any Atomics call that writes to the barrier's memory: an arrival that writes nothing cannot be counted by the others.`,
          };
        // A may begin round 1 only: until the test lets it into round 2, nobody may leave round 2.
        a.go(1);
        await a.arrival(0);
        await until(() => a.paused !== undefined || a.left(0) !== undefined, 3_000, [a, b]);
        const heldAfter = a.paused ? String(a.paused.after) : undefined;
        b.resume();
        // B sleeps in round 1, or finds it over, leaves, and arrives (and sleeps) in round 2. The
        // harness marks a thread asleep just before its Atomics.wait: a moment more, and it really sleeps.
        await until(() => b.asleep || b.hasLeft(1), 2_000, [a, b]);
        await sleep(50);
        await until(() => b.asleep || b.hasLeft(1), 2_000, [a, b]);
        const raced = b.hasLeft(0);
        const bWaits = b.cell('waits');
        const bRewaits = b.cell('rewaits');
        const aWoke = a.cell('woken');
        a.resume();
        // A finishes round 1 (its notify included) and stops before round 2. A thread its notify woke
        // leaves round 1 and sleeps in round 2, or (already in round 2) goes back to sleep there.
        await until(() => a.hasLeft(0), 3_000, [a, b]);
        let early: { result: string; lateWake: boolean } | undefined;
        if (a.hasLeft(0)) {
          const wokeNobody = () => a.cell('woken') === aWoke;
          await until(() => b.hasLeft(1) || wokeNobody() || (b.asleep && b.cell('waits') > bWaits), 3_000, [a, b]);
          if (b.hasLeft(1)) early = { result: String(b.left(1)?.result), lateWake: raced && !wokeNobody() && b.cell('rewaits') === bRewaits };
        }
        a.go(2);
        await until(() => a.left(1) !== undefined && b.left(1) !== undefined, 3_000, [a, b]);
        const inside = [a, b].filter((party) => !party.left(1));
        return { writes, heldAfter, raced, early, inside, after: a.callsAfterPause, cells: scene.cells, scene };
      }),
    );
    // Every run has ended (each wait is bounded) before a failure of one is reported: none goes on polling after the test.
    const failed = settled.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    const outcomes = settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const ordinal = (count: number) => `${count}${['st', 'nd', 'rd'][count - 1] ?? 'th'}`;
    for (const outcome of outcomes) {
      expect(outcome.problem, outcome.problem).toBeUndefined();
      const { writes, heldAfter, raced, early, inside, after, cells, scene } = outcome as Required<typeof outcome>;
      const where = (party: Party) => `${party.name} still in round ${party.left(0) ? 2 : 1}`;
      const writesAfter = writesToCells(after);
      expect(
        inside.map(where),
        (heldAfter
          ? `lost arrival: thread A, the last to arrive in round 1, was held right after its ${ordinal(writes)} write to the barrier's cells (${heldAfter}), ` +
            `while thread B, held until then right after its own arrival, went on: B ${raced ? 'saw the round end, left it, and arrived in round 2' : 'stayed in round 1'}. `
          : `Thread B was held right after its arrival in round 1 while thread A, the last to arrive, went through its whole arriveAndWait() (fewer than ${writes} writes); then B went on. `) +
          `Then A went on${heldAfter ? ` (its Atomics calls after the hold: ${after.join('; ') || 'none'})` : ''}, and 3 s later ${names(inside.map(where))}, with the barrier's cells at ${cells}. ` +
          (raced && writesAfter.length > 0
            ? `A's ${plural(writesAfter.length, 'write')} after B had seen the round end (${writesAfter.join('; ')}) landed in round 2, where B had already arrived: ` +
              "B's arrival was undone. Everything the next round needs must be in place before anything a waiting thread can see tells it the round is over."
            : inside.map((party) => scene.whyStill(party)).join(' ')) +
          `\n${scene.timeline.toText()}\n`,
      ).toEqual([]);
      expect(
        early,
        `left round 2 before thread A had arrived in it: thread B returned ${early?.result} from round 2 while the test still held A out of round 2 ` +
          `(A, the last to arrive in round 1, ${heldAfter ? `was held right after its ${ordinal(writes)} write to the barrier's cells (${heldAfter})` : 'went through its whole arriveAndWait() unheld'}; ` +
          `B ${raced ? 'saw round 1 end, left it, and arrived in round 2' : 'stayed in round 1'}; then A went on and returned from round 1). ` +
          (early?.lateWake
            ? "A's Atomics.notify for round 1 came after B had left round 1 and fallen asleep in round 2: it woke B there, and B returned without going back to sleep, " +
              'though round 2 was not over. A wake-up says only that someone notified, maybe for a round that is past: look again, and sleep again while your round goes on.'
            : 'arriveAndWait() returns once all the parties have arrived in this round, and A had not.') +
          `\n${scene.timeline.toText()}\n`,
      ).toBeUndefined();
    }
  });

  test('a woken thread that is slow to look still leaves its round, though the others have already arrived in the next', async () => {
    const scene = new Scene(2);
    // B sleeps in round 1; right after its Atomics.wait returns (woken), the harness holds it there, before it can look.
    const b = scene.join('B', { rounds: 2, pauseAfterWake: 0 });
    const a = scene.join('A', { rounds: 2 });
    await scene.asleepInRoundOne(b, a, 'hold after its wake-up');
    a.go(2);
    await a.arrival(0);
    await until(() => b.paused !== undefined || b.left(0) !== undefined, 3_000, [a, b]);
    expect(
      b.paused,
      b.left(0)
        ? `Thread B left round 1 without any Atomics.wait of its returning 'ok': nobody woke it (${plural(b.cell('timedOut'), 'wait')} timed out).\n${scene.timeline.toText()}\n`
        : `Thread A arrived last in round 1, yet thread B was not woken within 3 s. ${scene.whyStill(b)}\n${scene.timeline.toText()}\n`,
    ).toBeDefined();
    // B is held right after its wake-up. A returns from round 1 and arrives in round 2, where it must wait for B.
    await until(() => a.left(0) !== undefined, 3_000, [a, b]);
    expect(a.left(0), `Thread A, the last to arrive in round 1, did not return within 3 s. ${scene.whyStill(a)}\n${scene.timeline.toText()}\n`).toBeDefined();
    const aState = await a.settle(1);
    expect(
      aState,
      `passed round 2 alone: thread A left round 2 (returned ${String(a.left(1)?.result)}) while thread B, the other party, was still in round 1 ` +
        `(the test held it right after its wake-up). The barrier's cells held ${scene.cells}.\n${scene.timeline.toText()}\n`,
    ).not.toBe('left');
    const cellsWhenLetGo = scene.cells;
    b.resume();
    const inside = await scene.stillInside([b], 0);
    expect(
      inside.length,
      `could not tell its round had ended: thread B, woken at the end of round 1, was held before it could look at the barrier; meanwhile thread A returned ` +
        `and arrived in round 2, leaving the barrier's cells at ${cellsWhenLetGo}. Let go, B did not leave round 1: after its wake-up it made these Atomics calls: ` +
        `${b.callsAfterPause.join('; ') || 'none'}${b.asleep ? ', and is asleep again' : ''}. What B looks at reads the same when round 1 is over and round 2 has begun ` +
        'as while round 1 was still going: a waiting thread needs something that changes once per round and never comes back while it waits.\n' +
        `${scene.timeline.toText()}\n`,
    ).toBe(0);
    const stuck = await scene.stillInside([a, b], 1);
    expect(
      stuck.map((party) => party.name),
      `Both threads arrived in round 2, yet ${names(stuck.map((party) => party.name))} ${stuck.length === 1 ? 'was' : 'were'} still in arriveAndWait() 3 s later. ` +
        `${stuck.map((party) => scene.whyStill(party)).join(' ')}\n${scene.timeline.toText()}\n`,
    ).toEqual([]);
  });

  test('a thread that builds its Barrier while others wait in it joins their round', async () => {
    const scene = new Scene(2);
    const a = scene.join('A');
    a.go(1);
    await a.settle(0);
    const early = a.left(0);
    expect(early, `With 2 parties, thread A left the barrier before thread B had even built its Barrier.\n${scene.timeline.toText()}\n`).toBeUndefined();
    // Only now does B build its Barrier over the same memory.
    const b = scene.join('B');
    const built = await b.worker.message('built', 10_000, 'new Barrier() in a second thread did not return within 10 s');
    const [before, after] = [built.before as number[], built.after as number[]];
    expect(
      after,
      `new Barrier(memory, 2) in thread B changed the barrier's memory from [${before.join(', ')}] to [${after.join(', ')}], while thread A was waiting in the barrier: ` +
        "what A's arrival wrote is gone. Every thread builds its own Barrier, some after others have already arrived: building one must write nothing.",
    ).toEqual(before);
    b.go(1);
    const inside = await scene.stillInside([a, b], 0);
    expect(
      inside.map((party) => party.name),
      `Thread B built its Barrier while thread A was waiting in it, then arrived; yet ${names(inside.map((party) => party.name))} ` +
        `${inside.length === 1 ? 'was' : 'were'} still in arriveAndWait() 3 s later. ${inside.map((party) => scene.whyStill(party)).join(' ')}\n${scene.timeline.toText()}\n`,
    ).toEqual([]);
  });

  test('a barrier over cells 2 and 3 sleeps and wakes on those cells, leaving the others alone', async () => {
    const memory = sharedInts(5);
    memory.set([7, 9, 0, 0, 11]);
    const scene = new Scene(2, { memory, index: 2 });
    const [a, b] = [scene.join('A'), scene.join('B')];
    a.go(1);
    const state = await a.settle(0);
    const calls = a.cell('calls');
    const since = performance.now();
    await until(() => a.left(0) !== undefined, 200, [a, b]);
    const callsPerMs = (a.cell('calls') - calls) / (performance.now() - since);
    b.go(1);
    const inside = await scene.stillInside([a, b], 0);
    const others = [memory[0], memory[1], memory[4]];
    expect(
      others,
      `new Barrier(memory, 2, 2) must use cells 2 and 3 only, but it changed cells outside the barrier's cells: cells 0, 1 and 4 held 7, 9 and 11, ` +
        `and now hold ${others.join(', ')}. Use the cells at index and index + 1.\n${scene.timeline.toText()}\n`,
    ).toEqual([7, 9, 11]);
    expect(state, `With 2 parties, thread A left the barrier before thread B arrived.\n${scene.timeline.toText()}\n`).not.toBe('left');
    expect(
      inside.map((party) => party.name),
      `wake-up: with the barrier over cells 2 and 3 of [7, 9, 0, 0, 11], both threads arrived, yet ${names(inside.map((party) => party.name))} ` +
        `${inside.length === 1 ? 'was' : 'were'} still in arriveAndWait() 3 s later. ${inside.map((party) => scene.whyStill(party)).join(' ')}\n${scene.timeline.toText()}\n`,
    ).toEqual([]);
    const waitCell = a.cell('lastWaitCell');
    const where =
      waitCell === NEVER_WAITED ? 'never called Atomics.wait' : waitCell === -1 ? 'waited on another array than the memory' : `waited on cell ${waitCell}`;
    expect(
      { sleptOnItsCells: waitCell === 2 || waitCell === 3, notifiedElsewhere: b.cell('notifiesElsewhere'), timedOut: a.cell('timedOut') },
      `With the barrier over cells 2 and 3, thread A ${where}${state === 'asleep' ? '' : ` (${callsPerMs.toFixed(0)} Atomics calls per ms while it waited)`}, ` +
        `thread B, the last arrival, called Atomics.notify elsewhere than on cells 2 and 3 ${plural(b.cell('notifiesElsewhere'), 'time')}, and ` +
        `${plural(a.cell('timedOut'), 'Atomics.wait call')} of A returned 'timed-out'. Sleep on one of the barrier's own cells, without a timeout, and notify that same cell.\n` +
        `${scene.timeline.toText()}\n`,
    ).toEqual({ sleptOnItsCells: true, notifiedElsewhere: 0, timedOut: 0 });
  });

  test('four threads meeting 1,000 times: nobody leaves a round before all have arrived, and each round has one last arrival', async () => {
    const threads = 4;
    const rounds = 1_000;
    const memory = sharedInts(2);
    const arrivedIn = sharedInts(threads);
    const leaders = sharedInts(rounds);
    const seen = sharedInts(SEEN.length);
    const timeline = new Timeline();
    const run = await runTogether({
      harness,
      parties: threads,
      workerData: (me) =>
        ({ role: 'race', memory, control: newControl(), parties: threads, index: 0, rounds, me, arrivedIn, leaders, seen }) satisfies HarnessData,
      timeline,
      label: (me) => `thread ${me}`,
      ms: 10_000,
    });
    // How long the rounds took, for the stress table (the deadline is 10 s, start-up included).
    const spans = timeline.spans.filter((span) => span.end !== undefined);
    if (spans.length === threads)
      measured(
        'barrier: 4 threads meeting 1,000 times (ms)',
        Math.max(...spans.map((span) => span.end!)) - Math.min(...spans.map((span) => span.start)),
        10_000,
      );
    const early = Atomics.load(seen, SEEN.early);
    expect(
      early,
      `${threads} threads, released together, met at the barrier ${n(rounds)} times, and ${plural(early, 'time')} a thread left a round while another had not arrived in it: ` +
        `the first, thread ${Atomics.load(seen, SEEN.leaver)} left round ${Atomics.load(seen, SEEN.round) + 1} while thread ${Atomics.load(seen, SEEN.laggard)} had arrived in ` +
        `${plural(Atomics.load(seen, SEEN.laggardArrived), 'round')} only.\n${timeline.toText()}\n`,
    ).toBe(0);
    const arrived = Array.from({ length: threads }, (_, me) => Atomics.load(arrivedIn, me));
    expect(
      run.stuck,
      `Thread${run.stuck.length === 1 ? '' : 's'} ${run.stuck.join(', ')} of ${threads} ${run.stuck.length === 1 ? 'was' : 'were'} still in the barrier after 10 s ` +
        `(the threads had arrived in ${arrived.join(', ')} rounds; the barrier's cells held [${[...memory].join(', ')}]). The barrier stopped letting them through: ` +
        'an arrival lost, or a sleeper nobody woke. The tests that hold a thread at one point of the barrier (a woken thread racing into the next round, ' +
        'a thread held between its arrival and its sleep) tell these apart.\n' +
        `${timeline.toText()}\n`,
    ).toEqual([]);
    const ahead = Atomics.load(seen, SEEN.ahead);
    expect(ahead, `${plural(ahead, 'time')} a thread leaving a round found another two rounds ahead of it: that one passed a round without it.`).toBe(0);
    const counts = Array.from(leaders);
    const wrong = counts.flatMap((count, round) => (count === 1 ? [] : [`round ${round + 1}: ${count}`]));
    expect(
      wrong.slice(0, 5),
      `arriveAndWait() must return true in exactly one thread a round (the last arrival); in ${plural(wrong.length, 'round')} of ${n(rounds)} it did not ` +
        `(threads that got true: ${wrong.slice(0, 5).join(', ')}${wrong.length > 5 ? ', ...' : ''}).`,
    ).toEqual([]);
  });
});
