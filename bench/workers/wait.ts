/** One I/O wait: a timer of `ms`, or a GET of `url` (a loopback server that answers after a delay). */
export type Wait = { ms: number } | { url: string };

/** Waits, without blocking the thread, and resolves with what arrived. */
export async function waitFor(wait: Wait): Promise<string> {
  if ('ms' in wait) {
    await new Promise((resolve) => setTimeout(resolve, wait.ms));
    return `waited ${wait.ms} ms`;
  }
  return (await fetch(wait.url)).text();
}
