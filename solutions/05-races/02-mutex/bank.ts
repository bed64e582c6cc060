import { Mutex } from './mutex.ts';

/** A bank's shared memory: the lock's cell first, then one Int32 balance per account. */
export const LOCK_CELL = 0;
export const FIRST_ACCOUNT = 1;

/**
 * Accounts whose balances live in shared memory, so that several threads can move money between
 * them. Each thread builds its own Bank over the same memory: `new Bank(memory)`.
 */
export class Bank {
  /** All of the bank's shared memory: send it to a worker, which builds `new Bank(memory)` over it. */
  readonly memory: Int32Array;
  /** The balances, account by account: a view of `memory` from FIRST_ACCOUNT on. */
  readonly balances: Int32Array;
  readonly #mutex: Mutex;

  /** A new bank with `accounts` accounts holding `opening` each, in memory that workers share. */
  static open(accounts: number, opening: number): Bank {
    const memory = new Int32Array(new SharedArrayBuffer((FIRST_ACCOUNT + accounts) * Int32Array.BYTES_PER_ELEMENT));
    memory.fill(opening, FIRST_ACCOUNT);
    return new Bank(memory);
  }

  constructor(memory: Int32Array) {
    this.memory = memory;
    this.balances = memory.subarray(FIRST_ACCOUNT);
    this.#mutex = new Mutex(memory, LOCK_CELL);
  }

  get accounts(): number {
    return this.balances.length;
  }

  /**
   * Moves `amount` from account `from` to account `to` if `from` holds at least that much, and
   * says whether it did: all or nothing, while other threads transfer at the same time. Throws a
   * RangeError for an unknown account or an amount that is not a positive integer.
   */
  transfer(from: number, to: number, amount: number): boolean {
    this.#checkAccount(from);
    this.#checkAccount(to);
    if (!Number.isInteger(amount) || amount <= 0) throw new RangeError(`amount must be a positive integer, got ${amount}`);
    this.#mutex.lock();
    try {
      // The check and both writes happen under one lock: no other transfer can change these
      // balances in between. (Plain reads and writes are safe here: the lock orders them.)
      if (this.balances[from]! < amount) return false;
      this.balances[from]! -= amount;
      this.balances[to]! += amount;
      return true;
    } finally {
      // Released on every way out, a return or an exception, or the next transfer waits forever.
      this.#mutex.unlock();
    }
  }

  #checkAccount(account: number): void {
    if (!Number.isInteger(account) || account < 0 || account >= this.accounts) {
      throw new RangeError(`no account ${account}: accounts are 0 to ${this.accounts - 1}`);
    }
  }
}
