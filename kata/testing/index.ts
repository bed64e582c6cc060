export { DeadlineExceeded, failureOf, isNotImplemented, shownReason, sleep, until, valueWithin, within } from './deadline.ts';
export { measured } from './measure.ts';
export { type Settlement, settlementWithin } from './settlement.ts';
export { isChildAlive, letSpawnedOutliveTests, liveChildren, liveWorkers, spawnCounts, spawnLog, stopWorkers } from './spawned.ts';
export { targetDir, targetUrl } from '../inside/target.ts';
export { Timeline, type Span } from './timeline.ts';
