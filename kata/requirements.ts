import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Exercise, Fixture } from './catalog.ts';
import { codeFiles } from './cli/progress.ts';
import { manifestPath } from './manifest.ts';
import { isTestOwned } from './paths.ts';

/**
 * What is missing for every requirement of `exercise` to be tested and broken: its manifest lists
 * every file once, each requirement names tests that exist, each test checks some requirement, and
 * each requirement is broken by a wrong fixture that names it (`// Breaks: <id>`) and is rejected by
 * one of its tests. `testNames` are the exercise's tests as a run saw them (`describe > test`).
 */
export function requirementProblems(exercise: Exercise, fixtures: Fixture[], testNames: string[]): string[] {
  const manifest = exercise.manifest;
  const shown = path.relative(process.cwd(), manifestPath(exercise.dir));
  if (manifest === undefined) return [`no ${shown}: list the files and the requirements (CONTRIBUTING, "Requirements")`];
  const problems: string[] = [];
  const { edit, given, tests } = manifest.files;
  const listed = [...edit, ...given, ...tests];
  const onDisk = codeFiles(exercise.dir).filter((file) => !file.startsWith('.meta/'));
  for (const file of onDisk.filter((file) => !listed.includes(file))) problems.push(`${file} is in no list of "files" in ${shown}`);
  for (const file of listed.filter((file) => !onDisk.includes(file))) problems.push(`${shown} lists ${file}, which is not in ${exercise.folder}`);
  for (const file of listed.filter((file, index) => listed.indexOf(file) !== index)) problems.push(`${shown} lists ${file} twice`);
  for (const file of [...edit, ...given].filter(isTestOwned)) problems.push(`${file} is only for the tests: list it under "tests"`);
  for (const file of tests.filter((file) => !isTestOwned(file))) problems.push(`${file} is under "tests" but is not a *.test.ts or *.harness.ts file`);
  const solution = codeFiles(exercise.solutionDir);
  for (const file of edit.filter((file) => !solution.includes(file))) problems.push(`${file} is to be edited, but the solution has no ${file}`);
  // A given file is copied into the solution (its code imports it from beside itself): one text, in both places.
  for (const file of given) {
    if (!solution.includes(file) || !readFileSync(path.join(exercise.solutionDir, file)).equals(readFileSync(path.join(exercise.dir, file)))) {
      problems.push(`${file} is given, but solutions/${exercise.folder}/${file} is not the same file: copy it over`);
    }
  }

  const checked = new Set<string>();
  for (const requirement of manifest.requirements) {
    for (const test of requirement.tests) {
      if (testNames.includes(test)) checked.add(test);
      else problems.push(`requirement "${requirement.id}" names the test "${test}", which the run did not see`);
    }
    const breakers = fixtures.filter((fixture) => fixture.kind === 'wrong' && fixture.breaks === requirement.id);
    if (breakers.length === 0) problems.push(`requirement "${requirement.id}" is broken by no wrong fixture ("// Breaks: ${requirement.id}")`);
  }
  for (const test of testNames.filter((test) => !checked.has(test)))
    problems.push(`the test "${test}" checks no requirement: name it under the requirement it checks`);
  for (const fixture of fixtures.filter((fixture) => fixture.kind === 'wrong')) {
    const requirement = manifest.requirements.find((candidate) => candidate.id === fixture.breaks);
    if (fixture.breaks === undefined) problems.push(`${fixture.name} names no requirement: add "// Breaks: <id>"`);
    else if (requirement === undefined) problems.push(`${fixture.name} breaks "${fixture.breaks}", which is not a requirement of ${exercise.id}`);
    else if (!requirement.tests.includes(fixture.rejectedBy!)) {
      problems.push(`${fixture.name} breaks "${fixture.breaks}" but is rejected by "${fixture.rejectedBy}", which is not one of that requirement's tests`);
    }
  }
  return problems;
}
