// The child side: runs in its own process, started by sumOfSquaresInChild() in child.ts.

// `once`: after one request the listener is gone, nothing keeps the child alive, and it exits
// with code 0 as soon as the reply has been sent.
process.once('message', (n: number) => {
  let sum = 0;
  for (let i = 1; i <= n; i += 1) sum += i * i;
  // The only way a result gets back to the parent: it shares no memory with this process.
  process.send!(sum);
});
