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
    // TODO: refuse bad input (RangeError); then take the locks of both accounts, this.locks[from]
    // and this.locks[to], in a way that cannot deadlock with a transfer going the other way; check
    // the balance and move the money; let go of both locks on every way out.
    throw new Error('Not implemented yet: Bank.transfer() in exercises/08-sync-classics/01-deadlock/deadlock.ts (see README.md there)');
  }

  #checkAccount(account: number): void {
    if (!Number.isInteger(account) || account < 0 || account >= this.accounts) {
      throw new RangeError(`no account ${account}: accounts are 0 to ${this.accounts - 1}`);
    }
  }
}
