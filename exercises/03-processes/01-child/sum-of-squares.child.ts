// The child side: runs in its own process, started by sumOfSquaresInChild() in child.ts.

// TODO: wait for one message (the n to sum up to), compute 1² + 2² + ... + n², and send the sum back.
throw new Error('Not implemented yet: the child side in exercises/03-processes/01-child/sum-of-squares.child.ts (see README.md there)');
