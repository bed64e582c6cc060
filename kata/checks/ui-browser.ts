/**
 * Vitest UI in a real browser. Starts `npm run ui` (the real Vitest server), takes the URL with
 * its token from what it prints, opens it in headless Chromium and checks that the UI shows every
 * exercise's tests, the same results the run printed, and a timeline picture attached to a test.
 * Saves two screenshots, the whole window and the opened test's timeline, to .kata/vitest-ui.png
 * and .kata/vitest-ui-timeline.png, or beside the path given as its argument: the README's
 * pictures are refreshed with `node kata/checks/ui-browser.ts docs/vitest-ui.png`.
 * Exit 0 passed, 77 skipped (no Chromium), 1 failed.
 *
 * What it shows is the learner's view once gather is solved: the exercises project alone (as
 * `npm run ui` has it), run over a copy of exercises/ with gather's solution in place (through the
 * plan file `verify` uses), with a state folder of its own so that the learner's progress is not
 * touched. A passing gather test has a timeline to look at.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stripVTControlCharacters } from 'node:util';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { exercises, selectExercises } from '../catalog.ts';
import { exercisesDir, repoRoot, stateDir } from '../paths.ts';
import { planEnv } from '../vitest/plan.ts';
import type { Target } from '../vitest/projects.ts';

const chromiumPath = process.env.KATA_CHROMIUM ?? '/usr/bin/chromium';
// verify runs this check on every run: it must not rewrite a tracked file unless asked to.
const screenshot = path.resolve(process.argv[2] ?? path.join(stateDir, 'vitest-ui.png'));
const timelineShot = screenshot.replace(/(\.png)?$/, '-timeline.png');
const budgetMs = 60_000;
const started = performance.now();
const seconds = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;

if (process.platform === 'win32') skip('runs on Linux and macOS (it stops the UI server by its process group)');
try {
  accessSync(chromiumPath, constants.X_OK);
} catch {
  skip(`no Chromium at ${chromiumPath} (Debian/Ubuntu: apt-get install -y chromium; elsewhere set KATA_CHROMIUM to a Chromium binary)`);
}

/** The timeline picture to look for: a gather test, which records four overlapping tasks. */
const timelineTest = 'starts every task before waiting for any of them';
const gather = selectExercises(['gather'])[0]!;
const exerciseTests = exercises().flatMap((exercise) => exercise.tests);

let server: ChildProcess | undefined;
let context: BrowserContext | undefined;
/** The page, for a screenshot of what the browser showed when the check failed. */
let lastPage: Page | undefined;
let printed = '';
const failureShot = path.join(stateDir, 'ui-browser-failure.png');
const profile = mkdtempSync(path.join(tmpdir(), 'kata-ui-chromium-'));
// Inside the repo, so that the copied exercises import the packages of its node_modules.
const learnerCopy = path.join(stateDir, `ui-check-exercises-${process.pid}`);
const learnerState = path.join(stateDir, `ui-check-state-${process.pid}`);
mkdirSync(stateDir, { recursive: true });
const plan = path.join(stateDir, `ui-check-plan-${process.pid}.json`);

/** A reason the check failed: printed as it is, without a stack trace. */
class CheckFailed extends Error {}

async function check(): Promise<string> {
  cpSync(exercisesDir, learnerCopy, { recursive: true });
  cpSync(gather.solutionDir, path.join(learnerCopy, gather.folder), { recursive: true });
  const targets: Target[] = [{ name: 'exercises', dir: learnerCopy, include: exerciseTests }];
  const port = await freePort();
  server = spawn('npm', ['run', 'ui', '--', `--api.port=${port}`], {
    cwd: repoRoot,
    detached: true,
    env: { ...process.env, ...planEnv(plan, targets), KATA_STATE_DIR: learnerState, FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const read = (chunk: Buffer) => (printed += stripVTControlCharacters(chunk.toString()));
  server.stdout!.on('data', read);
  server.stderr!.on('data', read);

  const url = await until(
    20_000,
    () => /UI started at (https?:\/\/\S+\?token=[\w-]+)/.exec(printed)?.[1],
    () => `npm run ui printed no URL with a ?token= within 20 s:\n${tail(printed)}`,
  );
  // The first run is over when Vitest has printed its summary and the kata its progress bar: 24-36 s
  // for the 26 test files beside verify's lanes, past 45 s beside a CPU hog too (stress --verify at
  // 3be88c9). A guard against a run that never ends, not a judge of speed.
  await until(
    120_000,
    () => (/^\s*Tests\s/m.test(printed) && /^\s*Kata\s/m.test(printed) ? true : undefined),
    () => `the test run did not end (with Vitest's summary and the kata's progress) within 120 s:\n${tail(printed)}`,
  );
  const runEnded = seconds();

  context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1280, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(10_000);
  lastPage = page;
  const response = await page.goto(url);
  if (response?.status() !== 200) throw new CheckFailed(`the UI answered ${response?.status()} at ${url}`);

  // The dashboard shows the results the server printed, once the UI has no test running (the
  // server watches the files, so an edit in the repo starts a new run: the latest result counts).
  const dashboard = async () => ({
    passed: await number(page, 'pass-entry'),
    failed: await number(page, 'fail-entry'),
    total: await number(page, 'total-entry'),
  });
  const idle = async () =>
    /RUNNING \(0\)/.test(
      await page
        .getByTestId('explorer-summary')
        .innerText()
        .catch(() => ''),
    );
  const totals = await until(
    20_000,
    async () => {
      const expected = sum(printedResults(printed));
      const shown = await dashboard();
      return (await idle()) && shown.passed === expected.passed && shown.failed === expected.failed && shown.total === expected.total ? shown : undefined;
    },
    async () => `the dashboard shows ${JSON.stringify(await dashboard())}; the server printed ${JSON.stringify(sum(printedResults(printed)))}`,
  );

  // Every exercise's test file is in the explorer, passed or failed as printed. The tree is
  // folded to its files so that they all fit the window (the UI may unfold failed files again
  // while results arrive: then it is folded again).
  const icons = { passed: 'status-icon-pass', failed: 'status-icon-fail', skipped: 'status-icon-skip' };
  const foldToFiles = async () => {
    const collapse = page.getByTestId('collapse-all');
    if (await collapse.isVisible()) await collapse.click();
    else await page.getByTestId('expand-all').click();
  };
  let wrong: string[] = [];
  await until(
    15_000,
    async () => {
      // A row reads "<test file> <status icon>"; the one project, exercises, is the learner's.
      const rows = new Set(
        await page
          .getByTestId('explorer-item')
          .filter({ visible: true })
          .evaluateAll((items) =>
            items.map(
              (item) => `exercises ${item.getAttribute('aria-label')} ${item.querySelector('[data-testid^="status-icon-"]')?.getAttribute('data-testid')}`,
            ),
          ),
      );
      const results = printedResults(printed);
      wrong = exerciseTests.filter((test) => {
        const result = results.get(`exercises ${test}`);
        return !result || !rows.has(`exercises ${test} ${icons[result.state]}`);
      });
      if (wrong.length === 0) return true;
      await foldToFiles();
      return undefined;
    },
    () => `the explorer does not show these test files as the server printed them: ${wrong.join(', ')}`,
  );

  if (await page.locator('#project-select').isVisible()) throw new CheckFailed('the UI offers a choice of projects: the learner has only one, exercises');
  // A test's timeline: an SVG picture in its report, drawn by the browser.
  await page.getByPlaceholder(/Search/).fill(timelineTest);
  await page
    .getByTestId('explorer-item')
    .filter({ visible: true, has: page.getByText(timelineTest) })
    .first()
    .click();
  const picture = page.getByTestId('report').locator('img[src^="data:image/svg+xml"]').first();
  await picture.waitFor({ timeout: 10_000 }).catch(() => {
    throw new CheckFailed(`the report of gather's "${timelineTest}", solved, shows no timeline picture`);
  });
  // (The tsconfig has no DOM types: the image is described by the two fields read.)
  const drawn = await picture.evaluate((image) => {
    const { complete, naturalWidth } = image as unknown as { complete: boolean; naturalWidth: number };
    return complete && naturalWidth > 0;
  });
  if (!drawn) throw new CheckFailed('the timeline picture is in the report, but the browser could not draw it');
  const report = await page.getByTestId('report').innerText();
  if (!/timeline[\s\S]*4 tasks, at most 4 at once/.test(report)) throw new CheckFailed(`the report does not name the timeline and its four tasks:\n${report}`);

  // The screenshots for the README: the opened test's report, then every exercise in the explorer
  // with that report beside them.
  mkdirSync(path.dirname(screenshot), { recursive: true });
  const reportBox = await page.getByTestId('report').boundingBox();
  const pictureBox = await picture.boundingBox();
  if (!reportBox || !pictureBox) throw new CheckFailed('the report and its timeline picture are not on the screen');
  // From the top of the report to just below the picture: the report itself runs down the window.
  const right = Math.min(reportBox.x + reportBox.width, pictureBox.x + pictureBox.width + 40);
  await page.screenshot({
    path: timelineShot,
    clip: { x: reportBox.x, y: reportBox.y, width: right - reportBox.x, height: pictureBox.y + pictureBox.height + 24 - reportBox.y },
  });
  await page.getByPlaceholder(/Search/).fill('');
  await until(
    10_000,
    async () => {
      const fileRows = await page.getByTestId('explorer-item').filter({ visible: true, hasText: '.test.ts' }).count();
      if (fileRows >= exerciseTests.length) return true;
      await foldToFiles();
      return undefined;
    },
    () => 'the explorer did not fold back to the list of test files',
  );
  // No tooltip in the picture: it stays up while its button has the focus.
  await page.evaluate('document.activeElement?.blur()');
  await page.mouse.move(900, 700);
  await page
    .getByText(/^(Expand|Collapse) tests$/)
    .waitFor({ state: 'hidden', timeout: 3_000 })
    .catch(() => {});
  await page.screenshot({ path: screenshot });

  return (
    `npm run ui in Chromium shows all ${exerciseTests.length} exercise test files and the ${totals.total} results the server printed ` +
    `(${totals.passed} passed, ${totals.failed} failed) with gather solved, one project, and a timeline picture; screenshots in ${path.relative(repoRoot, screenshot)} and ${path.basename(timelineShot)}; the test run ended at ${runEnded}`
  );
}

/** Stops the browser and the server: its whole process group (npm, sh, vitest and its workers). */
async function cleanUp(): Promise<void> {
  await context?.close().catch(() => {});
  stopServer('SIGTERM');
  for (let i = 0; i < 30 && serverRunning(); i += 1) await sleep(100);
  stopServer('SIGKILL');
  for (const dir of [profile, learnerCopy, learnerState]) rmSync(dir, { recursive: true, force: true });
  rmSync(plan, { force: true });
}
const serverRunning = () => server !== undefined && server.exitCode === null && server.signalCode === null;
function stopServer(signal: NodeJS.Signals): void {
  try {
    if (server?.pid) process.kill(-server.pid, signal);
  } catch {
    // Already gone.
  }
}
// Whatever ends this script, the server does not outlive it.
process.on('exit', () => stopServer('SIGKILL'));
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void cleanUp().finally(() => process.exit(1)));

let exitCode = 0;
let verdict: string;
let watchdog: NodeJS.Timeout | undefined;
try {
  const gaveUp = new Promise<never>((_, reject) => {
    watchdog = setTimeout(() => reject(new CheckFailed(`it took longer than ${budgetMs / 1000} s`)), budgetMs);
  });
  verdict = `${await Promise.race([check(), gaveUp])} (${seconds()})`;
} catch (error) {
  exitCode = 1;
  verdict = `Vitest UI check failed after ${seconds()}: ${error instanceof CheckFailed ? error.message : (error as Error).stack}`;
  const shot = await lastPage?.screenshot({ path: failureShot }).then(
    () => true,
    () => false,
  );
  if (shot) verdict += `\n(what the browser showed: ${path.relative(repoRoot, failureShot)})`;
} finally {
  clearTimeout(watchdog);
  await cleanUp();
}
console.log(verdict!);
process.exit(exitCode);

// ---------------------------------------------------------------------------------------------

function skip(reason: string): never {
  console.log(reason);
  process.exit(77);
}

async function until<T>(ms: number, probe: () => T | undefined | Promise<T | undefined>, failure: () => string | Promise<string>): Promise<T> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    if (server && !serverRunning()) throw new CheckFailed(`npm run ui stopped (exit code ${server.exitCode}):\n${tail(printed)}`);
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(200);
  }
  throw new CheckFailed(await failure());
}

interface PrintedResult {
  state: 'passed' | 'failed' | 'skipped';
  tests: number;
  failed: number;
  skipped: number;
}

/**
 * What the server printed for each test file, the latest run's line winning, keyed
 * "<project> <file>": `❯  exercises  exercises/01-async/01-gather/gather.test.ts (8 tests | 8 failed) 9ms`.
 */
function printedResults(output: string): Map<string, PrintedResult> {
  const results = new Map<string, PrintedResult>();
  for (const [, mark, project, file, tests, rest] of output.matchAll(/^\s*([✓❯↓×])\s+(\S+)\s+(\S+\.test\.ts)\s+\((\d+) tests?((?:\s*\|\s*\d+ \w+)*)\)/gm)) {
    const counted = (word: string) => Number(new RegExp(`(\\d+) ${word}`).exec(rest!)?.[1] ?? 0);
    const state = mark === '✓' ? 'passed' : mark === '↓' ? 'skipped' : 'failed';
    results.set(`${project} ${file}`, { state, tests: Number(tests), failed: counted('failed'), skipped: counted('skipped') });
  }
  return results;
}

function sum(results: Map<string, PrintedResult>): { passed: number; failed: number; total: number } {
  const all = [...results.values()];
  const total = all.reduce((n, result) => n + result.tests, 0);
  const failed = all.reduce((n, result) => n + result.failed, 0);
  return { passed: total - failed - all.reduce((n, result) => n + result.skipped, 0), failed, total };
}

async function number(page: Page, testId: string): Promise<number> {
  const text = await page
    .getByTestId(testId)
    .first()
    .innerText()
    .catch(() => '');
  return Number(/\d+/.exec(text)?.[0] ?? NaN);
}

function tail(text: string): string {
  return text.trim().split('\n').slice(-15).join('\n');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}
