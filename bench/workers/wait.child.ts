// One wait in a process of its own: the wait arrives as the first message, the answer goes back.
import { waitFor, type Wait } from './wait.ts';

process.once('message', async (wait: Wait) => process.send!(await waitFor(wait)));
