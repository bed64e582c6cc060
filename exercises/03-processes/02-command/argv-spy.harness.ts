// Preloaded by the tests into the programs searchFile() starts (NODE_OPTIONS=--import ...): writes
// down the script and the arguments each one received, so that a test can say what search was asked
// to do. (Other programs started meanwhile, such as the tests' reaper, inherit it too.)
import { appendFileSync } from 'node:fs';

const log = process.env.KATA_ARGV_LOG;
if (log) appendFileSync(log, `${JSON.stringify({ script: process.argv[1], args: process.argv.slice(2) })}\n`);
