/**
 * The unit layer runs without any Temporal server and without child processes of ours
 * (vitest.config.ts sets `INVITEFLOW_TEST_LAYER=unit` for it): what would start one calls this
 * first, so a test in the wrong folder fails at once instead of slowing the fast loop.
 */
export function refuseInUnitLayer(what: string): void {
  if (process.env.INVITEFLOW_TEST_LAYER === 'unit') {
    throw new Error(`${what} in the unit layer: unit tests start no Temporal server and no process; put this test in a folder of another layer (vitest.config.ts)`);
  }
}
