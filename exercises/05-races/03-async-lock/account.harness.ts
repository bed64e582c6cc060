/**
 * The race, in plain single-threaded async code. The balance lives in a store that answers on a
 * later turn of the event loop, as a database or a file would. `deposit()` reads the balance,
 * waits, then writes it back; while it waits, other deposits read the same old balance, and all
 * but the last write are lost. Only the tests use this file; the README shows why it races.
 */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A key-value store whose answers take one turn of the event loop. */
export class SlowStore {
  readonly #values = new Map<string, number>();

  async get(key: string): Promise<number> {
    await nextTurn();
    return this.#values.get(key) ?? 0;
  }

  async set(key: string, value: number): Promise<void> {
    await nextTurn();
    this.#values.set(key, value);
  }
}

export class Account {
  readonly #store = new SlowStore();

  /** Adds `amount` and resolves with the new balance. Not safe to overlap with another deposit. */
  async deposit(amount: number): Promise<number> {
    const balance = await this.#store.get('balance');
    // Any other deposit can run here, between this read and the write below.
    await this.#store.set('balance', balance + amount);
    return balance + amount;
  }

  balance(): Promise<number> {
    return this.#store.get('balance');
  }
}
