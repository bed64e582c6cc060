/**
 * A task probe: a loopback HTTP server in the test that tasks running elsewhere (worker threads,
 * child processes, pool threads) call into through `probed()` from kata/inside/task-probe-client.ts.
 *
 * - It records each task on a Timeline as it happens: begun when the task checks in, with the
 *   thread id and pid it reports, ended when it checks out.
 * - It holds tasks at a named gate until the test opens it, so a test can fill a pool and a queue
 *   and look at them, deterministically.
 * - It is a barrier across threads and processes: tasks that `meet` wait until enough of them are
 *   waiting together, which proves they ran at the same time without measuring any time.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Cue } from '../inside/task-probe-client.ts';
import type { Timeline } from './timeline.ts';

export type { Cue } from '../inside/task-probe-client.ts';

export interface TaskProbe {
  readonly url: string;
  readonly timeline: Timeline;
  /** Labels of tasks that waited at a barrier and gave up: not enough tasks were running with them. */
  readonly unmet: string[];
  /** A cue for the task labelled `label`: pass it to the task as part of its input. */
  cue(label: string, options?: Omit<Cue, 'url' | 'label'>): Cue;
  /** Resolves once `count` tasks are waiting at `gate` at the same time. */
  waiting(gate: string, count: number): Promise<void>;
  /** Lets every task waiting at `gate` go on, and every task that reaches it later. */
  open(gate: string): void;
  /** Ends the span of a task that was stopped from outside (it will never check out). */
  stopped(label: string): void;
  /** Releases every waiting task and closes the server. */
  close(): Promise<void>;
}

interface Waiter {
  label: string;
  res: ServerResponse;
}

/** Starts a probe on 127.0.0.1 (port 0) that records onto `timeline`. */
export async function startTaskProbe(timeline: Timeline, { meetTimeoutMs = 5_000 } = {}): Promise<TaskProbe> {
  const ends = new Map<string, () => unknown>();
  const opened = new Set<string>();
  const held = new Map<string, Waiter[]>();
  const meeting = new Map<number, Waiter[]>();
  const unmet: string[] = [];
  const watchers = new Set<() => void>();
  const changed = () => {
    for (const check of watchers) check();
  };
  const answer = (res: ServerResponse) => res.headersSent || res.writeHead(204, { connection: 'close' }).end();

  const handlers: Record<string, (body: Record<string, unknown>, label: string, res: ServerResponse) => void> = {
    begin(body, label, res) {
      ends.set(label, timeline.begin(label, { threadId: Number(body.threadId), pid: Number(body.pid) }));
      answer(res);
    },
    end(_body, label, res) {
      ends.get(label)?.();
      answer(res);
    },
    hold(body, label, res) {
      const gate = String(body.gate);
      if (opened.has(gate)) return answer(res);
      wait(held, gate, { label, res });
    },
    meet(body, label, res) {
      const parties = Number(body.parties);
      const group = wait(meeting, parties, { label, res });
      if (group.length >= parties) {
        meeting.delete(parties);
        for (const waiter of group) answer(waiter.res);
        return;
      }
      setTimeout(() => {
        if (res.headersSent) return;
        unmet.push(label);
        leave(meeting, parties, res);
        answer(res);
      }, meetTimeoutMs).unref();
    },
  };

  function wait<K>(lists: Map<K, Waiter[]>, key: K, waiter: Waiter): Waiter[] {
    const list = lists.get(key) ?? [];
    lists.set(key, list);
    list.push(waiter);
    // A task that is stopped while it waits (an aborted or terminated thread) closes its connection.
    waiter.res.on('close', () => {
      if (leave(lists, key, waiter.res)) changed();
    });
    changed();
    return list;
  }

  function leave<K>(lists: Map<K, Waiter[]>, key: K, res: ServerResponse): boolean {
    const list = lists.get(key) ?? [];
    const index = list.findIndex((waiter) => waiter.res === res);
    if (index >= 0) list.splice(index, 1);
    return index >= 0;
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      const handler = handlers[(req.url ?? '').slice(1)];
      if (handler === undefined) return res.writeHead(404, { connection: 'close' }).end();
      const body = JSON.parse(text || '{}') as Record<string, unknown>;
      handler(body, String(body.label), res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    timeline,
    unmet,
    cue: (label, options = {}) => ({ url, label, ...options }),
    waiting(gate, count) {
      return new Promise((resolve) => {
        const check = () => {
          if ((held.get(gate)?.length ?? 0) < count) return;
          watchers.delete(check);
          resolve();
        };
        watchers.add(check);
        check();
      });
    },
    open(gate) {
      opened.add(gate);
      for (const waiter of held.get(gate) ?? []) answer(waiter.res);
      held.delete(gate);
    },
    stopped(label) {
      ends.get(label)?.();
    },
    async close() {
      for (const waiter of [...held.values(), ...meeting.values()].flat()) answer(waiter.res);
      held.clear();
      meeting.clear();
      watchers.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
