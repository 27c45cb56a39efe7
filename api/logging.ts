/**
 * Logger options for the API. A link token is a bearer secret that sits in the URL path
 * (`/i/<token>`), so every URL is logged with that segment replaced; authorization headers and
 * anything named `token` are redacted as well, in case a log call ever includes them.
 */
import type { FastifyServerOptions } from 'fastify';
import type { DestinationStream, LevelWithSilent } from 'pino';

const LINK_PATH = /\/i\/[^/?#\s'"]+/g;

/** The text with every `/i/<token>` path segment replaced by `/i/[redacted]`. */
export function redactLinks(text: string): string {
  return text.replace(LINK_PATH, '/i/[redacted]');
}

interface LoggedRequest {
  method: string;
  url: string;
  routeOptions?: { url?: string };
  ip?: string;
  headers?: Record<string, unknown>;
}

/** Fastify `logger` options: our level, an optional destination, redacted URLs and secrets. */
export function loggerOptions(level: LevelWithSilent, stream?: DestinationStream): NonNullable<FastifyServerOptions['logger']> {
  return {
    level,
    ...(stream ? { stream } : {}),
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        'authorization',
        'token',
        '*.token',
        'body.token',
      ],
      censor: '[redacted]',
    },
    serializers: {
      req(request: LoggedRequest) {
        return {
          method: request.method,
          url: redactLinks(request.url),
          route: request.routeOptions?.url,
          remoteAddress: request.ip,
          userAgent: typeof request.headers?.['user-agent'] === 'string' ? request.headers['user-agent'] : undefined,
        };
      },
      // Framework errors quote the URL (an undecodable path, a route not found); scrub them too.
      err(err: Error & { code?: unknown; statusCode?: unknown }) {
        return {
          type: err.name,
          code: err.code,
          statusCode: err.statusCode,
          message: redactLinks(err.message),
          stack: redactLinks(err.stack ?? ''),
        };
      },
    },
  };
}
