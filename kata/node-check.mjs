// The Node version check that every npm script of the kata runs first
// (`node kata/node-check.mjs && vitest ...`), and vitest.config.ts too. The one home of the rule:
// the range is package.json's engines.node. Plain JavaScript, no `??` or `?.`, so that Node 20
// and older can load it and say what is wrong, where they would fail on a .ts file or deep
// inside Vitest.
//
// `node kata/node-check.mjs 20.20.2` judges that version instead of this Node's (for its tests).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('..', import.meta.url);
const packageJson = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
const range = packageJson.engines.node; // "^22.18.0 || >=24.0.0"

/** "v22.18.0" as [22, 18, 0]. */
function numbers(version) {
  const parts = String(version).replace(/^v/, '').split('.').map(Number);
  return [parts[0] || 0, parts[1] || 0, parts[2] || 0];
}

function compare(a, b) {
  for (let i = 0; i < 3; i += 1) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

/** One comparator of a semver range, the kinds package.json uses: ^22.18.0, ~24.1, >=24, <27, 22.18.0. */
function allows(comparator, version) {
  const match = /^(\^|~|>=|<=|>|<|=)?v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(comparator);
  if (!match) throw new Error(`package.json engines.node has a part the kata's check cannot read: "${comparator}"`);
  const bound = [Number(match[2]), Number(match[3] || 0), Number(match[4] || 0)];
  const order = compare(version, bound);
  switch (match[1]) {
    case '^':
      return order >= 0 && version[0] === bound[0];
    case '~':
      return order >= 0 && version[0] === bound[0] && version[1] === bound[1];
    case '>=':
      return order >= 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    case '<':
      return order < 0;
    default:
      return order === 0;
  }
}

function supports(version) {
  return range.split('||').some((set) =>
    set
      .trim()
      .split(/\s+/)
      .every((comparator) => allows(comparator, numbers(version))),
  );
}

/** The range as people say it: "^22.18.0 || >=24.0.0" is "22.18+ or 24+". */
function spoken() {
  return range
    .split('||')
    .map((set) => set.trim().replace(/^(\^|>=)v?(\d+)\.(\d+)\.\d+$/, (_, _kind, major, minor) => `${major}${minor === '0' ? '' : `.${minor}`}+`))
    .join(' or ');
}

/** The one line for an unsupported Node: what was found, what is needed, how to get it. */
function unsupportedMessage(version) {
  let wanted = '24';
  try {
    wanted = readFileSync(new URL('.nvmrc', root), 'utf8').trim() || wanted;
  } catch {
    // No .nvmrc: suggest the Node the kata is developed on.
  }
  return (
    `This is Node ${String(version).replace(/^v/, '')}; the kata needs Node ${spoken()} (package.json engines: ${range}). ` +
    `Switch with "nvm install" or "fnm use --install-if-missing" (both read .nvmrc: ${wanted}), or "volta install node@${wanted}", then run the command again.`
  );
}

// Run as a script (not imported by vitest.config.ts): exit 1 with the one line, or quietly 0.
const version = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv[2] ? process.argv[2] : process.versions.node;
if (!supports(version)) {
  console.error(unsupportedMessage(version));
  process.exit(1);
}
