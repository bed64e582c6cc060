// Start-up, round trips and memory of a child process: it says "ready" the moment its code runs,
// then sends every message straight back, except "memory", which it answers with its own RSS.
process.send!('ready');
process.on('message', (message: unknown) => {
  process.send!(message === 'memory' ? process.memoryUsage().rss : (message as string));
});
