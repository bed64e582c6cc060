import { afterEach, describe, expect, test } from 'vitest';
import { HarnessWorker, type HarnessMessage, lookAtThread } from '#kata/testing/harness-worker.ts';
import { measured, sleep, Timeline } from '#kata/testing/index.ts';
import { createControl, holderIndex, RELEASE, type Snapshot, snapshot, TEST_HOLDS } from './control.harness.ts';
import { Bank } from './deadlock.ts';
import type { HarnessData } from './deadlock.harness.ts';

// Every transfer runs in a worker (deadlock.harness.ts): a deadlock must not freeze the test's own
// thread, and a worker asleep in Atomics.wait forever can still be stopped. The harness's spy on
// Atomics writes which locks each thread holds and where it waits into `control`
// (control.harness.ts), which the test reads while the threads run, and after it has stopped them.
const harness = new URL('./deadlock.harness.ts', import.meta.url);
/** A transfer waiting for a lock held for half a second makes fewer Atomics calls per ms than this (README). */
const MAX_CALLS_PER_MS = 2;
/**
 * A spinning transfer is found running or ready to run in every look at its thread. One that backs
 * off sleeps most of the time, but on a busy machine each wake-up waits in the run queue for a
 * core: beside a CPU hog a right answer's share reached 0.29. Three quarters stays far from both.
 */
const MAX_SHARE_READY = 0.75;
const sharedInts = (length: number) => new Int32Array(new SharedArrayBuffer(length * Int32Array.BYTES_PER_ELEMENT));
const n = (value: number) => value.toLocaleString('en-US');
const plural = (count: number, what: string) => `${n(count)} ${what}${count === 1 ? '' : 's'}`;
const capitalized = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
const list = (items: string[]) => (items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`);

const started: HarnessWorker[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((worker) => worker.terminate()));
});

/** A harness thread, with the name the messages give it: "thread 1 (transfer(0, 1, 1))". */
interface Thread {
  worker: HarnessWorker;
  name: string;
}

function start(data: HarnessData, name: string, timeline?: Timeline): Thread {
  const worker = new HarnessWorker(harness, data);
  started.push(worker);
  if (timeline) {
    let end: (() => unknown) | undefined;
    worker.worker.on('message', (message: HarnessMessage) => {
      if (message.type === 'started') end = timeline.begin(name, { threadId: worker.threadId });
      if (message.type === 'done') end?.();
    });
  }
  return { worker, name };
}

/** The first of these messages the worker sends, at most `ms` from now; undefined if none came. Rejects if the worker fails. */
async function firstOf(worker: HarnessWorker, types: string[], ms: number): Promise<HarnessMessage | undefined> {
  const until = performance.now() + ms;
  for (;;) {
    const came = worker.received.find((message) => types.includes(message.type));
    if (came || performance.now() > until) return came;
    // Rejects at once with the worker's error (the stub's "Not implemented yet" included).
    await worker.maybeMessage(types[0]!, 10);
  }
}

/** What a test shows of the bank's memory: names of its cells. */
class Names {
  readonly accounts: number;
  readonly threads: string[];

  constructor(accounts: number, threads: string[]) {
    this.accounts = accounts;
    this.threads = threads;
  }

  cell(cell: number): string {
    if (cell >= 0 && cell < this.accounts) return `the lock of account ${cell}`;
    if (cell >= this.accounts && cell < 2 * this.accounts) return `the balance of account ${cell - this.accounts}`;
    return cell === -1 ? "a cell of another array than the bank's" : `cell ${cell} of the bank's memory`;
  }

  holder(holder: number): string {
    if (holder === 0) return 'nobody';
    if (holder === TEST_HOLDS) return 'the test (playing another thread)';
    return this.threads[holder - 1] ?? `thread ${holder}`;
  }

  locks(cells: number[]): string {
    return cells.length === 0 ? 'no lock' : list(cells.map((cell) => this.cell(cell)));
  }
}

const heldBy = (snap: Snapshot, slot: number) => snap.holders.flatMap((holder, cell) => (holder === slot + 1 ? [cell] : []));

/** One thread's state, from what the harness saw: what it holds, and whether and where it sleeps or keeps trying. */
function stateOf(snap: Snapshot, slot: number, names: Names): string {
  const thread = snap.threads[slot]!;
  const holds = `${names.threads[slot]} holds ${names.locks(heldBy(snap, slot))}`;
  if (thread.parked) {
    const on = thread.waitCell;
    const holder = on >= 0 && on < snap.holders.length ? snap.holders[on]! : 0;
    return (
      `${holds}, and is asleep in Atomics.wait on ${names.cell(on)}${on >= 0 ? ` (held by ${holder === slot + 1 ? 'itself' : names.holder(holder)})` : ''}` +
      `${thread.waitTimed ? ', with a timeout' : ''}`
    );
  }
  const tried = thread.lastFailed >= 0 ? `; it found ${names.cell(thread.lastFailed)} taken ${plural(thread.failedTries, 'time')}` : '';
  return `${holds}, and is not asleep (${plural(thread.calls, 'Atomics call')} so far, ${plural(thread.transfers, 'transfer')} returned${tried})`;
}

/**
 * Why some threads cannot go on: a chain of threads, each waiting for a lock the next one holds,
 * that closes into a cycle or ends at a holder that does not let go while the test watches (the
 * test itself, or a thread it keeps inside its critical section). A thread waits for a lock when
 * it sleeps on its cell with no timeout, or keeps finding it taken.
 */
interface Blocked {
  /** The threads of the chain, in order: each waits for a lock held by the next (or, for the last, by `end`). */
  chain: number[];
  /** The lock each of them waits for. */
  wants: number[];
  /** Whether each of them sleeps (true) or keeps trying (false). */
  asleep: boolean[];
  /** 'cycle': the last waits for the first; otherwise the holder that the last waits for. */
  end: 'cycle' | number;
  /** Threads that had returned from all their transfers (their locks stay held). */
  finished: number[];
  /** When the verdict was reached, in ms since the threads started, and how long the chain had lasted by then. */
  foundAtMs: number;
  forMs: number;
  snap: Snapshot;
}

type Watch = { state: 'done'; ms: number; done: HarnessMessage[] } | { state: 'blocked'; blocked: Blocked } | { state: 'timeout'; ms: number; snap: Snapshot };

/** How long the harness threads may take to start (load the code under test): seconds on a busy machine. */
const STARTUP_MS = 8_000;

/**
 * Waits until every thread has sent `done`, or a deadlock is seen, or `ms` pass after they have
 * all started (each posts `started` once it has loaded the code under test). A chain of
 * sleeping threads is judged after it has not changed over 3 looks (40 ms): a thread asleep in
 * Atomics.wait with no timeout, on a lock that only another sleeper can let go, never wakes. A
 * chain with a thread that keeps trying is judged after a second without a lock taken or let go,
 * or a transfer returned, while its tries went on.
 */
async function watchThreads(threads: Thread[], control: Int32Array, ms: number, frozen: number[] = []): Promise<Watch> {
  const startedBy = performance.now() + STARTUP_MS;
  while (!threads.every((thread) => thread.worker.find('started'))) {
    if (performance.now() > startedBy) throw new Error(`The test's harness threads had not started ${n(STARTUP_MS)} ms after they were created.`);
    // Rejects at once if a thread failed (the stub's "Not implemented yet" included).
    await Promise.all(threads.map((thread) => thread.worker.maybeMessage('started', 10)));
  }
  const since = performance.now();
  /** The chain seen at the last looks: since when, and how many looks in a row found every thread's Atomics calls unchanged. */
  let candidate: { key: string; base: Snapshot; last: Snapshot; at: number; quiet: number } | undefined;
  for (;;) {
    const done = threads.map((thread) => thread.worker.find('done'));
    if (done.every(Boolean)) return { state: 'done', ms: performance.now() - since, done: done as HarnessMessage[] };
    const snap = snapshot(control);
    // A thread that has returned lets go of nothing more: a lock it kept is kept for good.
    const finished = done.flatMap((message, slot) => (message ? [slot] : []));
    const found = findBlocked(snap, candidate?.base, [...frozen, ...finished]);
    const key = found && JSON.stringify([found.chain, found.wants, found.end, snap.holders, snap.threads.map((t) => [t.takes, t.releases, t.transfers])]);
    if (!found || candidate === undefined || key !== candidate.key) {
      candidate = found ? { key: key!, base: snap, last: snap, at: performance.now(), quiet: 0 } : undefined;
    } else {
      const { last, at } = candidate;
      const lasted = performance.now() - at;
      candidate.quiet = snap.threads.every((t, slot) => t.calls === last.threads[slot]!.calls) ? candidate.quiet + 1 : 0;
      candidate.last = snap;
      const allAsleep = found.asleep.every(Boolean);
      if ((allAsleep && candidate.quiet >= 2) || (!allAsleep && lasted >= 1_000)) {
        return { state: 'blocked', blocked: { ...found, finished, foundAtMs: performance.now() - since, forMs: lasted, snap } };
      }
    }
    if (performance.now() - since > ms) return { state: 'timeout', ms, snap };
    // Rejects at once if a thread failed (the stub's "Not implemented yet" included).
    await Promise.all(threads.map((thread) => thread.worker.maybeMessage('done', 0)));
    await sleep(20);
  }
}

function findBlocked(snap: Snapshot, base: Snapshot | undefined, frozen: number[]): Omit<Blocked, 'finished' | 'foundAtMs' | 'forMs' | 'snap'> | undefined {
  /** The lock a thread waits for, and whether it sleeps; undefined if it waits for none. */
  const wantOf = (slot: number): [number, boolean] | undefined => {
    const thread = snap.threads[slot]!;
    if (thread.parked && !thread.waitTimed && thread.waitCell >= 0 && thread.waitCell < snap.holders.length) return [thread.waitCell, true];
    // Keeps trying: its failed tries went on since the chain was first seen (or it has some, at first sight).
    const before = base?.threads[slot]?.failedTries ?? 0;
    if (!thread.parked && thread.lastFailed >= 0 && thread.failedTries > before) return [thread.lastFailed, false];
    return undefined;
  };
  for (let first = 0; first < snap.threads.length; first += 1) {
    const chain: number[] = [];
    const wants: number[] = [];
    const asleep: boolean[] = [];
    let slot = first;
    for (;;) {
      const want = wantOf(slot);
      if (!want) break;
      chain.push(slot);
      wants.push(want[0]);
      asleep.push(want[1]);
      const holder = snap.holders[want[0]]!;
      if (holder === TEST_HOLDS || frozen.includes(holder - 1)) return { chain, wants, asleep, end: holder };
      if (holder === 0 || holder > snap.threads.length) break;
      if (holder - 1 === first) return { chain, wants, asleep, end: 'cycle' };
      if (chain.includes(holder - 1)) break; // a cycle that does not pass through `first`: found from its own start
      slot = holder - 1;
    }
  }
  return undefined;
}

/** "thread 1 holds the lock of account 0 and is asleep on the lock of account 1, which thread 2 holds; ..." */
function chainText(blocked: Blocked, names: Names): string {
  const { chain, wants, asleep, end, snap, finished } = blocked;
  return chain
    .map((slot, index) => {
      const last = index + 1 === chain.length;
      const next = !last
        ? `which ${names.threads[chain[index + 1]!]} holds`
        : end !== 'cycle'
          ? `which ${names.holder(end)} holds${finished.includes(end - 1) ? ' (it has returned from all its transfers without letting go of it)' : ''}`
          : chain.length === 1
            ? 'which it holds itself'
            : `which ${names.threads[chain[0]!]} holds`;
      const waits = asleep[index]
        ? `is asleep in Atomics.wait on ${names.cell(wants[index]!)}`
        : `keeps trying ${names.cell(wants[index]!)} (found it taken ${plural(snap.threads[slot]!.failedTries, 'time')})`;
      return `${names.threads[slot]} holds ${names.locks(heldBy(snap, slot))} and ${waits}, ${next}`;
    })
    .join('; ');
}

describe('Bank.transfer', () => {
  test('moves money only when the balance allows, refuses bad input with a RangeError, and lets go of its locks', async () => {
    const bank = Bank.open(4, 100);
    const control = createControl(1, bank.memory.length);
    const names = new Names(4, ['the thread']);
    const thread = start({ role: 'rules', memory: bank.memory, control, slot: 0 }, 'the thread');
    const watch = await watchThreads([thread], control, 5_000);
    const results = thread.worker.received.filter((message) => message.type === 'result') as unknown as Array<{
      call: string;
      outcome: string;
      balances: number[];
      held: number[];
    }>;
    const stuckIn = String(thread.worker.received.filter((message) => message.type === 'step').at(-1)?.call ?? 'its first transfer');
    const heldText = (result: { call: string; outcome: string; held: number[] }) =>
      `After ${result.call} ${result.outcome === 'RangeError' ? 'threw a RangeError' : result.outcome}, ${names.locks(result.held)} ${result.held.length > 1 ? 'were' : 'was'} still held`;
    const leftHeld = results.find((result) => result.held.length > 0);
    if (watch.state !== 'done') {
      const state = watch.state === 'blocked' ? chainText(watch.blocked, names) : `${stateOf(watch.snap, 0, names)} (gave up after ${n(watch.ms)} ms)`;
      if (leftHeld) {
        expect.fail(
          `${heldText(leftHeld)}, and the next transfers wait for ${leftHeld.held.length > 1 ? 'them' : 'it'} forever: ${stuckIn} never returned (${state}). ` +
            'Let go of both locks on every way out of transfer(): a return, early or not, and an exception (try/finally).',
        );
      }
      const self = watch.state === 'blocked' && watch.blocked.end === 'cycle' && watch.blocked.chain.length === 1;
      const sameAccount = /^transfer\((\S+), \1,/.test(stuckIn);
      expect.fail(
        `${stuckIn} never returned, with no other thread in the bank: ${state}.` +
          (self ? ' It waits for a lock its own thread holds, which only it could let go.' : '') +
          (sameAccount ? ' A transfer from an account to itself takes that same lock twice: refuse it with a RangeError before any lock is taken.' : ''),
      );
    }
    const byCall = Object.fromEntries(results.map((result) => [result.call, result]));
    const moves: Array<[string, string, number[]]> = [
      ['transfer(0, 1, 30)', 'returned true', [70, 130, 100, 100]],
      ['transfer(2, 0, 101)', 'returned false', [70, 130, 100, 100]],
      ['transfer(1, 2, 130)', 'returned true', [70, 0, 230, 100]],
      ['transfer(3, 2, 100)', 'returned true', [70, 0, 330, 0]],
      ['transfer(1, 0, 1)', 'returned false', [70, 0, 330, 0]],
    ];
    let before = [100, 100, 100, 100];
    for (const [call, outcome, balances] of moves) {
      const result = byCall[call]!;
      expect(
        { outcome: result.outcome, balances: result.balances },
        `${call} on [${before.join(', ')}] must ${outcome === 'returned true' ? 'move the money (all of a balance may move)' : 'refuse (the balance is too small) and change nothing'}`,
      ).toEqual({ outcome, balances });
      before = balances;
    }
    // Positive integers larger than any balance can hold (an Int32's at most 2,147,483,647): good input, refused by the balance.
    const tooLarge = ['transfer(2, 0, 2147483648)', 'transfer(0, 2, 3000000000)'];
    const misjudged = tooLarge.filter((call) => byCall[call]?.outcome !== 'returned false');
    expect(
      Object.fromEntries(tooLarge.map((call) => [call, { outcome: byCall[call]?.outcome, balances: byCall[call]?.balances }])),
      `${misjudged.map((call) => `${call} ${byCall[call] ? (byCall[call].outcome === 'RangeError' ? 'threw a RangeError' : byCall[call].outcome) : 'was never made'}`).join('; ')}, ` +
        `on balances of [${before.join(', ')}]. These amounts are positive integers, only larger than any balance can be: they are not bad input, ` +
        'the balance is too small, so transfer() must return false and move nothing.' +
        (misjudged.some((call) => byCall[call]?.outcome === 'RangeError') ? ' Is the amount checked in a way that only holds for 32-bit integers?' : ''),
    ).toEqual(Object.fromEntries(tooLarge.map((call) => [call, { outcome: 'returned false', balances: before }])));
    expect(
      leftHeld && heldText(leftHeld),
      `${leftHeld ? heldText(leftHeld) : ''}: the next transfer on that account would wait for it forever. ` +
        'Let go of both locks on every way out of transfer(): a return, early or not, and an exception (try/finally).',
    ).toBeUndefined();
    const invalid = results.filter((result) => !moves.some(([call]) => call === result.call) && !tooLarge.includes(result.call));
    // Accounts are 0 to 3: each of these names another, as `from` or as `to`.
    const unknownAccounts = [
      'transfer(0, 4, 5)',
      'transfer(4, 0, 5)',
      'transfer(-1, 0, 5)',
      'transfer(0, -1, 5)',
      'transfer(0.5, 1, 5)',
      'transfer(0, 0.5, 5)',
      'transfer(NaN, 1, 5)',
      'transfer(0, NaN, 5)',
    ];
    const letIn = unknownAccounts.filter((call) => byCall[call]?.outcome !== 'RangeError');
    expect(
      Object.fromEntries(unknownAccounts.map((call) => [call, byCall[call]?.outcome])),
      `The bank's accounts are 0 to 3, and ${letIn.map((call) => `${call} ${byCall[call]?.outcome ?? 'was never made'}`).join('; ')}. ` +
        'An account that is not one of them, too large, negative, fractional or NaN, must be refused with a RangeError, as `to` as much as `from`.' +
        (letIn.some((call) => byCall[call]?.outcome.startsWith('threw TypeError'))
          ? ' (A TypeError is what calling lock() on this.locks[account] throws where there is no such lock: it is undefined.) Check both accounts before using either.'
          : ''),
    ).toEqual(Object.fromEntries(unknownAccounts.map((call) => [call, 'RangeError'])));
    expect(
      Object.fromEntries(invalid.map((result) => [result.call, result.outcome])),
      'Unknown accounts, a transfer from an account to itself, and amounts that are not positive integers must throw a RangeError (and move nothing).',
    ).toEqual(Object.fromEntries(invalid.map((result) => [result.call, 'RangeError'])));
    expect(
      invalid.map((result) => result.call),
      'every refused call must have been tried, the transfer from an account to itself last',
    ).toHaveLength(14);
    expect(results.at(-1)!.balances, 'The refused transfers changed balances').toEqual([70, 0, 330, 0]);
  });

  test('reads and writes the two balances only while holding the locks of both accounts', async () => {
    const bank = Bank.open(4, 100);
    const control = createControl(1, bank.memory.length);
    const thread = start({ role: 'trace', memory: bank.memory, control, slot: 0 }, 'the thread');
    const names = new Names(4, ['the thread']);
    const watch = await watchThreads([thread], control, 5_000);
    const stuckIn = String(thread.worker.received.filter((message) => message.type === 'step').at(-1)?.call ?? 'its first transfer');
    expect(watch.state, `${stuckIn} never returned, with no other thread in the bank. ${stateOf(snapshot(control), 0, names)}.`).toBe('done');
    const done = thread.worker.find('done')!;
    // Each kind of touch once (a balance read twice without a lock is one mistake).
    const outside = [...new Set(done.outside as string[])];
    expect(
      done.touches,
      'transfer(0, 1, 10), transfer(3, 2, 10) and transfer(1, 0, 1000) never read a balance through this.balances or this.memory, ' +
        'where the test watches them: keep the balances there.',
    ).toBeGreaterThan(0);
    expect(
      outside,
      `${outside.slice(0, 3).join('; ')}${outside.length > 3 ? ` (and ${n(outside.length - 3)} more)` : ''}. A transfer reads two balances and writes two; ` +
        "while it does, another transfer on either account must wait, which it does only if this one holds that account's lock. " +
        'Take the locks of both accounts before the first read of a balance, and let go of them only after the last write.',
    ).toEqual([]);
    expect({ moved: done.moved, balances: done.balances }, 'transfer(0, 1, 10), transfer(3, 2, 10) and transfer(1, 0, 1000) on four accounts of 100').toEqual({
      moved: [true, true, false],
      balances: [90, 110, 110, 90],
    });
  });

  test('two threads transferring in opposite directions do not deadlock, even when each has taken its first lock', async () => {
    const bank = Bank.open(2, 100_000);
    const control = createControl(2, bank.memory.length);
    const gate = sharedInts(1);
    const timeline = new Timeline();
    const times = 2_000;
    const plan: Array<[number, number, number]> = [
      [0, 1, 1],
      [1, 0, 1],
    ];
    const threadNames = plan.map(([from, to, amount], slot) => `thread ${slot + 1} (transfer(${from}, ${to}, ${amount}))`);
    const names = new Names(2, threadNames);
    const threads = plan.map((transfer, slot) =>
      start(
        { role: 'transfers', memory: bank.memory, control, slot, transfers: [transfer], times, rendezvous: true, gate, parties: 2 },
        threadNames[slot]!,
        timeline,
      ),
    );
    const watch = await watchThreads(threads, control, 8_000);
    await Promise.all(threads.map((thread) => thread.worker.terminate()));
    if (watch.state === 'blocked') {
      const { blocked } = watch;
      const snap = blocked.snap;
      // In which order each thread took its first two locks: its `from` first, or its `to`.
      const orders = plan.map(([from, to], slot) => {
        const first = snap.threads[slot]!.firstTake;
        const which = first === from ? 'its `from`' : first === to ? 'its `to`' : 'neither of its accounts';
        return { first, text: `${threadNames[slot]} took ${names.cell(first)} (${which}) first` };
      });
      const opposite = orders[0]!.first !== orders[1]!.first && orders.every((order) => order.first >= 0);
      const allAsleep = blocked.asleep.every(Boolean);
      expect.fail(
        `Deadlock, found ${n(Math.round(blocked.foundAtMs))} ms after the threads started: ${chainText(blocked, names)}. ` +
          (allAsleep
            ? 'Each waits for a lock only the other can let go, and neither ever will: both threads were stopped. '
            : `For ${n(Math.round(blocked.forMs))} ms no lock was taken or let go and no transfer returned: each keeps trying a lock the other holds, and holds on to its own meanwhile. Both threads were stopped. `) +
          `${capitalized(orders.map((order) => order.text).join('; '))}${opposite ? ': they took the same two locks in opposite orders, which is what lets each hold what the other waits for' : ''}. ` +
          '(The test held each thread right after its first lock until the other had taken one, so this happens on every run, not once in a while.) ' +
          (allAsleep ? '' : 'Trying again while holding a lock does not help: a thread that fails to get its second lock must let go of its first. ') +
          `\n${timeline.toText()}\n`,
      );
    }
    expect(
      watch.state,
      watch.state === 'timeout'
        ? `${threadNames.join(' and ')} had not finished their ${n(times)} transfers each after ${n(watch.ms)} ms. ` +
            `${plan.map((_, slot) => stateOf(watch.snap, slot, names)).join('. ')}.\n${timeline.toText()}\n`
        : '',
    ).toBe('done');
    measured('deadlock: two threads transferring in opposite directions (ms)', (watch as { ms: number }).ms, 8_000);
    const balances = [...bank.balances];
    expect(
      balances,
      `After ${n(times)} transfers of 1 each way, the balances must be back where they started (each thread moved the same amount the other way); total ${n(balances[0]! + balances[1]!)}.`,
    ).toEqual([100_000, 100_000]);
  });

  test('transfers that share no account run at the same time', { timeout: 25_000 }, async () => {
    const bank = Bank.open(4, 100);
    const control = createControl(2, bank.memory.length);
    const timeline = new Timeline();
    const threadNames = ['transfer(0, 1, 10)', 'transfer(2, 3, 10)'];
    const names = new Names(4, threadNames);
    // The first transfer is stopped at its first touch of a balance while it holds a lock: inside its critical section.
    const first = start(
      { role: 'transfers', memory: bank.memory, control, slot: 0, transfers: [[0, 1, 10]], times: 1, pauseInside: true },
      threadNames[0]!,
      timeline,
    );
    const inside = await firstOf(first.worker, ['inside', 'done'], STARTUP_MS + 2_000);
    expect(
      inside?.type,
      inside
        ? 'transfer(0, 1, 10) returned without touching a balance while it held a lock, so this test could not keep it inside its critical section ' +
            'to see whether another transfer can run meanwhile. Read and write the balances while holding the locks of both accounts.'
        : `transfer(0, 1, 10), alone in the bank, never touched a balance while it held a lock (gave up after ${n(STARTUP_MS + 2_000)} ms, start-up included). ${stateOf(snapshot(control), 0, names)}.`,
    ).toBe('inside');
    const endInside = timeline.begin('0->1 held inside', { threadId: first.worker.threadId });
    const holding = names.locks((inside!.holds as number[]).sort((a, b) => a - b));
    const second = start({ role: 'transfers', memory: bank.memory, control, slot: 1, transfers: [[2, 3, 10]], times: 1 }, threadNames[1]!, timeline);
    // The first transfer does not let go while the test holds it (slot 0 is frozen).
    const watch = await watchThreads([second], control, 5_000, [0]);
    if (watch.state === 'blocked') {
      const { blocked } = watch;
      expect.fail(
        `transfer(2, 3, 10) could not run while transfer(0, 1, 10) was inside its critical section (holding ${holding}): ${chainText(blocked, names)}. ` +
          'The two transfers share no account, yet one had to wait for the other. Per-account locks are there so that only transfers on the same account take turns: ' +
          'a lock for every transfer, or locks of accounts a transfer does not touch, make every transfer wait for all the others, as if there were one lock for the bank.' +
          `\n${timeline.toText()}\n`,
      );
    }
    expect(
      watch.state,
      `transfer(2, 3, 10) had not returned ${n(5_000)} ms after it started, while transfer(0, 1, 10) was held inside its critical section (holding ${holding}). ` +
        `${stateOf(snapshot(control), 1, names)}. The two share no account: nothing should keep it waiting.\n${timeline.toText()}\n`,
    ).toBe('done');
    measured('deadlock: a transfer beside one held inside its critical section (ms)', (watch as { ms: number }).ms, 5_000);
    Atomics.store(control, RELEASE, 1);
    Atomics.notify(control, RELEASE);
    endInside();
    await first.worker.message('done', 5_000, 'transfer(0, 1, 10) never returned after the test let it go on');
    expect([...bank.balances], 'transfer(0, 1, 10) and transfer(2, 3, 10) on four accounts of 100').toEqual([90, 110, 90, 110]);
  });

  test('a transfer takes the locks of its two accounts only, not those of the accounts between them or beyond', { timeout: 25_000 }, async () => {
    const bank = Bank.open(5, 100);
    const control = createControl(1, bank.memory.length);
    const names = new Names(5, ['transfer(0, 3, 10)']);
    const timeline = new Timeline();
    // The test plays another thread that holds the locks of every account but 0 and 3: those between them, and the one above.
    const others = [1, 2, 4];
    for (const account of others) {
      Atomics.store(bank.memory, account, 1);
      Atomics.store(control, holderIndex(control, account), TEST_HOLDS);
    }
    const endHold = timeline.begin('test holds locks 1, 2 and 4');
    const thread = start({ role: 'transfers', memory: bank.memory, control, slot: 0, transfers: [[0, 3, 10]], times: 1 }, 'transfer(0, 3, 10)', timeline);
    const watch = await watchThreads([thread], control, 5_000);
    endHold();
    if (watch.state === 'blocked') {
      expect.fail(
        `transfer(0, 3, 10) waited for a lock it has no business with: ${chainText(watch.blocked, names)}. ` +
          'It moves money between accounts 0 and 3 only, so the locks of accounts 1, 2 and 4, held meanwhile by another thread, must not stop it: ' +
          "a transfer takes no other account's lock, or transfers on unrelated accounts wait for each other." +
          `\n${timeline.toText()}\n`,
      );
    }
    expect(
      watch.state,
      `transfer(0, 3, 10) had not returned ${n(5_000)} ms after it started, while the test held the locks of accounts 1, 2 and 4 (not its own two). ` +
        `${stateOf(snapshot(control), 0, names)}.\n${timeline.toText()}\n`,
    ).toBe('done');
    expect([...bank.balances], 'transfer(0, 3, 10) on five accounts of 100, beside the locks of accounts 1, 2 and 4 held').toEqual([90, 100, 100, 110, 100]);
  });

  // Held: the lock transfer(0, 1, 10) needs second (1), or first (0), whatever order it takes them in.
  test.each([
    { held: 1, which: 'to' },
    { held: 0, which: 'from' },
  ])('a transfer waiting for a lock sleeps instead of retrying at full speed (the lock of its $which account held)', async ({ held }) => {
    const bank = Bank.open(2, 100);
    const control = createControl(1, bank.memory.length);
    const names = new Names(2, ['transfer(0, 1, 10)']);
    const timeline = new Timeline();
    // The test plays another thread that holds the lock of account `held`.
    Atomics.store(bank.memory, held, 1);
    Atomics.store(control, holderIndex(control, held), TEST_HOLDS);
    const endHold = timeline.begin(`test holds lock ${held}`);
    const thread = start({ role: 'transfers', memory: bank.memory, control, slot: 0, transfers: [[0, 1, 10]], times: 1 }, 'transfer(0, 1, 10)', timeline);
    await firstOf(thread.worker, ['started'], STARTUP_MS);
    expect(thread.worker.find('started'), 'The transfer thread never started').toBeDefined();
    // Give it a moment to get to the lock it cannot have, then watch it for half a second.
    await sleep(50);
    const before = snapshot(control).threads[0]!;
    const since = performance.now();
    const [early, looks] = await Promise.all([thread.worker.maybeMessage('done', 500), lookAtThread(thread.worker.find('thread')?.proc, 500)]);
    const watched = performance.now() - since;
    const whileHeld = snapshot(control);
    const after = whileHeld.threads[0]!;
    const callsMade = after.calls - before.calls;
    expect(
      early,
      `transfer(0, 1, 10) returned ${String(early?.moved)} while the lock of account ${held} was held by another thread: it must wait for that lock before it touches account ${held}'s balance.`,
    ).toBeUndefined();
    Atomics.store(bank.memory, held, 0);
    Atomics.store(control, holderIndex(control, held), 0);
    Atomics.notify(bank.memory, held);
    endHold();
    const through = await thread.worker.maybeMessage('done', 3_000);
    // A thread asleep in lock() makes no calls at all; one that backs off longer after each failure
    // makes a few per 10 ms (about five per try); one that retries at once makes thousands per ms.
    const callsPerMs = measured('deadlock: Atomics calls per ms of a transfer waiting for a lock', callsMade / watched, MAX_CALLS_PER_MS);
    const runnable =
      looks && looks.looks > 0
        ? measured('deadlock: share of looks finding a waiting transfer ready to run', looks.runnable / looks.looks, MAX_SHARE_READY)
        : undefined;
    const tries = after.failedTries - before.failedTries;
    const letGo = after.releases - before.releases;
    const naps = after.timedWaits - before.timedWaits;
    const why =
      callsPerMs < MAX_CALLS_PER_MS
        ? 'It made few Atomics calls, yet it kept its core: it waits by running (a loop on the clock?), not by sleeping. Sleep in Atomics.wait, in lock() or between tries. '
        : tries > 100 && letGo > 100 && naps * 2 < tries
          ? `In that time it found a lock taken ${n(tries)} times and let go of a lock ${n(letGo)} times, with ${plural(naps, 'nap')} (an Atomics.wait with a timeout) between: ` +
            'it retries as soon as it has let go, with no pause. Two threads that do that to each other can keep colliding without either getting both locks ' +
            '(a livelock), and each burns a core meanwhile. Between tries, sleep, for longer after each failure and for a random time (back-off), ' +
            'or wait in lock() for a lock that you take in a fixed order. '
          : naps * 2 >= tries && tries > 0
            ? `It found a lock taken ${n(tries)} times and napped ${plural(naps, 'time')} (Atomics.wait with a timeout) in between, one try every ` +
              `${(watched / tries).toFixed(1)} ms: it backs off, but too briefly to let the lock's holder finish. Back off longer after each failure (doubling, say, up to some tens of ms). `
            : `It found a lock taken ${n(tries)} times and let go of a lock ${n(letGo)} times: it keeps calling Atomics while it waits. Sleep instead, in lock() or between tries. `;
    expect(
      callsPerMs < MAX_CALLS_PER_MS && (runnable === undefined || runnable < MAX_SHARE_READY),
      `busy waiting: while the lock of account ${held} was held by another thread for ${n(Math.round(watched))} ms, transfer(0, 1, 10) made ${n(callsMade)} Atomics calls ` +
        `(${callsPerMs.toFixed(1)} per ms, against fewer than ${MAX_CALLS_PER_MS})${looks ? ` and was found running or ready to run in ${looks.runnable} of ${looks.looks} looks` : ''}. ` +
        `${why}At the end of that time, ${stateOf(whileHeld, 0, names)}.\n${timeline.toText()}\n`,
    ).toBe(true);
    expect(
      through,
      `transfer(0, 1, 10) had not returned 3 s after the lock of account ${held} was let go (and notified). ${stateOf(snapshot(control), 0, names)}.\n${timeline.toText()}\n`,
    ).toBeDefined();
    expect([...bank.balances], 'transfer(0, 1, 10) on two accounts of 100, once the lock was free').toEqual([90, 110]);
  });

  test('four threads making random transfers between five accounts keep the total, and none deadlocks', { timeout: 25_000 }, async () => {
    const threads = 4;
    const times = 5_000;
    const bank = Bank.open(5, 1_000);
    const control = createControl(threads, bank.memory.length);
    const gate = sharedInts(1);
    const timeline = new Timeline();
    const threadNames = Array.from({ length: threads }, (_, slot) => `thread ${slot + 1}`);
    const names = new Names(5, threadNames);
    const workers = threadNames.map((name, slot) =>
      start(
        { role: 'transfers', memory: bank.memory, control, slot, times, seed: 0x9e3779b9 * (slot + 1), maxAmount: 400, gate, parties: threads },
        name,
        timeline,
      ),
    );
    const watch = await watchThreads(workers, control, 10_000);
    await Promise.all(workers.map((thread) => thread.worker.terminate()));
    if (watch.state === 'blocked') {
      expect.fail(
        `Deadlock, found ${n(Math.round(watch.blocked.foundAtMs))} ms after the threads started: ${chainText(watch.blocked, names)}. ` +
          'The threads were stopped. Transfers on many accounts, in every direction, must never wait for each other in a cycle.\n' +
          `${timeline.toText()}\n`,
      );
    }
    expect(
      watch.state,
      watch.state === 'timeout'
        ? `The ${threads} threads had not finished their ${n(times)} transfers each after ${n(watch.ms)} ms. ` +
            `${threadNames.map((_, slot) => stateOf(watch.snap, slot, names)).join('. ')}.\n${timeline.toText()}\n`
        : '',
    ).toBe('done');
    measured('deadlock: four threads making 5,000 random transfers each (ms)', (watch as { ms: number }).ms, 10_000);
    const done = (watch as { done: HarnessMessage[] }).done;
    const balances = [...bank.balances];
    const total = balances.reduce((sum, balance) => sum + balance, 0);
    expect(
      total,
      `${threads} threads, released together, made ${n(threads * times)} transfers between 5 accounts of 1,000. Money cannot appear or vanish, ` +
        `yet the balances are [${balances.join(', ')}], a total of ${n(total)} instead of 5,000: two transfers on the same account interleaved. ` +
        'Hold the locks of both accounts from the first read of a balance to the last write (the test "reads and writes the two balances only while holding the locks of both accounts" looks at that).\n' +
        `${timeline.toText()}\n`,
    ).toBe(5_000);
    expect(
      balances.every((balance) => balance >= 0),
      `A balance went negative: [${balances.join(', ')}]: a transfer moved money another transfer had just spent. Check the balance while holding both locks.`,
    ).toBe(true);
    const moved = done.reduce((sum, message) => sum + Number(message.moved), 0);
    const refused = done.reduce((sum, message) => sum + Number(message.refused), 0);
    expect(
      { moved: moved > 0, refused: refused > 0 },
      `Of ${n(threads * times)} transfers of 1 to 400 between accounts of about 1,000, ${n(moved)} moved money and ${n(refused)} were refused: some of each were expected.`,
    ).toEqual({ moved: true, refused: true });
  });
});
