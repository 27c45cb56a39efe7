/**
 * The cluster suites' selection (test/cluster/suites.ts): the name filter picks exactly the named
 * tests, and a named test that was renamed, skipped or failed makes the cluster run fail. The
 * names are checked against the test files here, so a rename shows up in `npm test` already.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLUSTER_SUITES, namePattern, notPassed } from './suites';
import type { JsonReport } from './suites';

const ROOT = join(import.meta.dirname, '..', '..');

/** A report in the shape of vitest's JSON reporter, every named test with `status`. */
function report(status: (file: string, name: string) => string | undefined): JsonReport {
  return {
    testResults: CLUSTER_SUITES.map((suite) => ({
      name: join(ROOT, suite.file),
      assertionResults: suite.tests.flatMap((name) => {
        const s = status(suite.file, name);
        const parts = name.split(' > ');
        return s ? [{ ancestorTitles: parts.slice(0, -1), title: parts.at(-1)!, status: s }] : [];
      }),
    })),
  };
}

describe('the tests run on the cluster', () => {
  it('are named as their files name them', () => {
    for (const suite of CLUSTER_SUITES) {
      const source = readFileSync(join(ROOT, suite.file), 'utf8');
      for (const name of suite.tests) {
        for (const part of name.split(' > ')) expect(source, `${suite.file}: ${part}`).toContain(`'${part}'`);
      }
    }
  });

  it('are selected by the name filter, and only they', () => {
    const pattern = namePattern();
    for (const name of CLUSTER_SUITES.flatMap((s) => s.tests)) {
      const spaced = name.split(' > ').join(' ');
      expect(pattern.test(spaced)).toBe(true);
      expect(pattern.test(`test/e2e/invite-flow.test.ts ${spaced}`)).toBe(true);
      expect(pattern.test(`${spaced} again`)).toBe(false);
    }
    expect(pattern.test('invite flow in a browser an existing email/password account signs in and receives the invite')).toBe(false);
  });

  it('pass only when every named test passed', () => {
    expect(notPassed(report(() => 'passed'))).toEqual([]);
    const [first, second] = CLUSTER_SUITES;
    const failures = notPassed(report((file) => (file === first!.file ? undefined : 'skipped')));
    expect(failures).toHaveLength(2);
    expect(failures[0]).toContain(`${first!.file}: "${first!.tests[0]}" not found (renamed?`);
    expect(failures[1]).toBe(`${second!.file}: "${second!.tests[0]}" skipped`);
    expect(notPassed(report((file) => (file === second!.file ? 'failed' : 'passed')))).toEqual([`${second!.file}: "${second!.tests[0]}" failed`]);
  });
});
