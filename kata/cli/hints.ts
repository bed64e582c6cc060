import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Exercise } from '../catalog.ts';

/** The hints of an exercise, from its hints.md: the text under `## 1`, `## 2`, ... in order. */
export function hintsOf(exercise: Exercise): string[] {
  let text: string;
  try {
    text = readFileSync(path.join(exercise.dir, 'hints.md'), 'utf8');
  } catch {
    return [];
  }
  const sections = text.replace(/\r\n/g, '\n').split(/^## +(\d+)\s*$/m);
  // split() with a capture group gives [before, "1", body, "2", body, ...].
  const hints: Array<[number, string]> = [];
  for (let i = 1; i < sections.length; i += 2) hints.push([Number(sections[i]), sections[i + 1]!.trim()]);
  return hints.sort(([a], [b]) => a - b).map(([, body]) => body);
}
