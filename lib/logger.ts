/**
 * Structured logs with pino, and the bridge that sends Temporal's own logs (SDK, workflow `log`,
 * activity context) through the same logger. Every line about an invite carries `inviteId`, taken
 * from the workflow id, so one filter finds everything an invite did. Emails appear only where a
 * line is about delivery; tokens and secrets never appear (pino redacts the usual carriers).
 */
import { pino } from 'pino';
import type { Logger as PinoLogger, LevelWithSilent } from 'pino';
import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';

/** Paths pino blanks wherever they appear in a log object. */
export const REDACTED_PATHS = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'token',
  'accessToken',
  'clientSecret',
  'client_secret',
  'password',
  'secret',
];

/** The process logger. */
export function createLogger(name: string, level: LevelWithSilent): PinoLogger {
  return pino({ name, level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } });
}

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Adds `inviteId` to a Temporal log line that names an invite workflow. */
export function withInviteId(meta: LogMetadata | undefined): LogMetadata {
  const workflowId: unknown = meta?.workflowId;
  if (typeof workflowId === 'string' && workflowId.startsWith('invite-') && meta?.inviteId === undefined) {
    return { ...meta, inviteId: workflowId.slice('invite-'.length) };
  }
  return meta ?? {};
}

/** A Temporal `Logger` that writes through pino. */
export function temporalLogger(logger: PinoLogger): TemporalLogger {
  const log = (level: LogLevel, message: string, meta?: LogMetadata) => {
    logger[LEVELS[level]](withInviteId(meta), message);
  };
  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}
