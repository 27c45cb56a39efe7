import { defineConfig } from 'vitest/config';

// One suite, run by `npm test`. Files run in separate processes because several start their own
// Temporal server, emulators and SMTP server on free ports.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/support/setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
