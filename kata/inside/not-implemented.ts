/**
 * How a stub says it is not written yet: every exercise function throws an Error whose message
 * starts with this text, and names the file to edit. The tests, verify, the progress file and
 * `kata reset` all recognise a stub by it; this is its one home. Harness workers load it too, so it
 * imports nothing (only `node:` modules would do).
 */
export const notImplementedText = 'Not implemented yet';

/** Whether `message` (of an Error, or one serialized across a thread or a process) is a stub's. */
export function isNotImplementedMessage(message: unknown): boolean {
  return typeof message === 'string' && message.startsWith(notImplementedText);
}

/** A stub's error: every exercise function throws one until the learner implements it. */
export function isNotImplemented(error: unknown): boolean {
  return error instanceof Error && isNotImplementedMessage(error.message);
}
