/**
 * How a stub says it is not written yet: every exercise function throws an Error whose message
 * starts with this text, and names the file to edit. The tests, verify, the progress file and
 * `kata reset` all recognise a stub by it; this is its one home.
 */
export const notImplementedText = 'Not implemented yet';

/** Whether `message` (of an Error, or one serialized across a thread or a process) is a stub's. */
export function isNotImplementedMessage(message: unknown): boolean {
  return typeof message === 'string' && message.startsWith(notImplementedText);
}
