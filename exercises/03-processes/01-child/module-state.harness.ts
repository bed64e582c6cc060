/**
 * Module-level state that the tests and their child both import. Every process that loads this
 * module gets its own fresh copy, starting at 'initial': that is what the memory test shows.
 */
export const moduleState = { value: 'initial' };
