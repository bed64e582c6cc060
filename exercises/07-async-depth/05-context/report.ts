import { threadId } from 'node:worker_threads';
import { currentRequestId } from './context.ts';

/** What a task reports: the request it ran for, as it saw it, and the thread it ran on. */
export interface Report {
  task: string;
  requestId: string | undefined;
  threadId: number;
}

export function report(task: string): Report {
  return { task, requestId: currentRequestId(), threadId };
}
