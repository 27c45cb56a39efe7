/** The Temporal-to-pino bridge: levels map, invite lines carry the invite id, secrets are blanked. */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { REDACTED_PATHS, temporalLogger, withInviteId } from '../../lib/logger';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'trace', redact: { paths: REDACTED_PATHS, censor: '[redacted]' } },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { lines, logger };
}

describe('temporal logger bridge', () => {
  it('adds the invite id taken from an invite workflow id, and only there', () => {
    expect(withInviteId({ workflowId: 'invite-abc123' })).toEqual({ workflowId: 'invite-abc123', inviteId: 'abc123' });
    expect(withInviteId({ workflowId: 'other-1' })).toEqual({ workflowId: 'other-1' });
    expect(withInviteId(undefined)).toEqual({});
  });

  it('maps Temporal levels to pino levels and keeps the metadata', () => {
    const { lines, logger } = capture();
    const log = temporalLogger(logger);
    log.warn('invite email refused', { workflowId: 'invite-xyz', kind: 'invite' });
    log.log('ERROR', 'boom', {});
    log.trace('fine');
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [40, 'invite email refused'],
      [50, 'boom'],
      [10, 'fine'],
    ]);
    expect(lines[0]).toMatchObject({ inviteId: 'xyz', kind: 'invite' });
  });

  it('blanks secrets wherever the usual carriers appear', () => {
    const { lines, logger } = capture();
    temporalLogger(logger).info('call', { authorization: 'Bearer s3cr3t', token: 'eyJ.x.y', clientSecret: 'shh' });
    const text = JSON.stringify(lines);
    expect(text).not.toMatch(/s3cr3t|eyJ\.x\.y|shh/);
    expect(lines[0]).toMatchObject({ authorization: '[redacted]', token: '[redacted]' });
  });
});
