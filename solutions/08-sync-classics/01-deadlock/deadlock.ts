import { Mutex } from './mutex.ts';

/**
 * Accounts whose balances live in shared memory, each with a lock of its own, so that transfers
 * between different accounts run at the same time on different threads. The memory holds one
 * lock cell per account first (cell `i` is account `i`'s lock), then one Int32 balance per account.
 * Each thread builds its own Bank over the same memory: `new Bank(memory)`.
 */
export class Bank {
  /** All of the bank's shared memory: send it to a worker, which builds `new Bank(memory)` over it. */
  readonly memory: Int32Array;
  /** The balances, account by account: a view of `memory` after the lock cells. */
  readonly balances: Int32Array;
  /** Each account's own lock: `locks[i]` guards `balances[i]`. */
  readonly locks: Mutex[];

  /** A new bank with `accounts` accounts holding `opening` each, in memory that workers share. */
  static open(accounts: number, opening: number): Bank {
    const memory = new Int32Array(new SharedArrayBuffer(2 * accounts * Int32Array.BYTES_PER_ELEMENT));
    memory.fill(opening, accounts);
    return new Bank(memory);
  }

  constructor(memory: Int32Array) {
    this.memory = memory;
    const accounts = memory.length / 2;
    this.balances = memory.subarray(accounts);
    this.locks = Array.from({ length: accounts }, (_, account) => new Mutex(memory, account));
  }

  get accounts(): number {
    return this.balances.length;
  }

  /**
   * Moves `amount` from account `from` to account `to` if `from` holds at least that much, and
   * says whether it did: all or nothing, while other threads transfer at the same time. Throws a
   * RangeError for an unknown account, for a transfer from an account to itself, or for an amount
   * that is not a positive integer.
   */
  transfer(from: number, to: number, amount: number): boolean {
    this.#checkAccount(from);
    this.#checkAccount(to);
    // Checked before any lock is taken: with from === to, the second lock() below would wait for
    // the lock this very thread took first, forever.
    if (from === to) throw new RangeError(`a transfer needs two different accounts, got ${from} twice`);
    if (!Number.isInteger(amount) || amount <= 0) throw new RangeError(`amount must be a positive integer, got ${amount}`);
    // One order for every transfer, whatever its direction: the lower account's lock first. A
    // deadlock needs a cycle (this thread holds A and waits for B while another holds B and waits
    // for A); a thread that holds the lock of account A only ever waits for a higher account's, so
    // the waits all point upwards and can never come back round to close a cycle.
    const first = Math.min(from, to);
    const second = Math.max(from, to);
    this.locks[first]!.lock();
    try {
      this.locks[second]!.lock();
      try {
        // Both balances are ours now: the check and both writes see no other transfer in between.
        if (this.balances[from]! < amount) return false;
        this.balances[from]! -= amount;
        this.balances[to]! += amount;
        return true;
      } finally {
        this.locks[second]!.unlock();
      }
    } finally {
      // Released on every way out, a return or an exception: in any order (only taking them needs one).
      this.locks[first]!.unlock();
    }
  }

  #checkAccount(account: number): void {
    if (!Number.isInteger(account) || account < 0 || account >= this.accounts) {
      throw new RangeError(`no account ${account}: accounts are 0 to ${this.accounts - 1}`);
    }
  }
}
