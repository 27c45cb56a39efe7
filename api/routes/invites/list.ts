/** `GET /v1/invites`: a search of Temporal visibility, page by page. */
import { z } from 'zod';
import { isValidEmail, normalizeEmail } from '../../../workflows/input';
import { invalidRequest } from '../../errors';
import type { InviteRoutes } from './kit';
import { security } from './kit';
import { errors, INVITE_STATES, listSchema } from './schemas';

const SCOPE = /^[a-z0-9][a-z0-9:._-]{0,63}$/;

const listQuery = z.strictObject({
  status: z.enum(INVITE_STATES).optional(),
  email: z.string().max(320).optional(),
  scope: z.string().regex(SCOPE, 'must be a scope').optional(),
  pageSize: z.coerce.number().int().min(1).max(100).default(20),
  pageToken: z.string().max(4096).regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/, 'must be a token from a previous page').optional(),
});

export function registerListInvites({ app, ctx, requireScope }: InviteRoutes): void {
  app.get(
    '/v1/invites',
    {
      onRequest: requireScope('invites:read'),
      schema: {
        summary: 'Search invites (from Temporal visibility, eventually consistent)',
        description:
          'Pages are read from Temporal visibility one request at a time, not from a snapshot: an invite ' +
          'whose run closes or changes state between two requests can move in the order, so a later page ' +
          'may show it again or an invite may be missed. Deduplicate by `id`; read one invite exactly with ' +
          '`GET /v1/invites/{id}`.',
        tags: ['invites'],
        security: security('invites:read'),
        querystring: listQuery,
        response: { 200: listSchema, ...errors },
      },
    },
    async (request) => {
      const { status, scope, pageSize, pageToken } = request.query;
      let email: string | undefined;
      if (request.query.email !== undefined) {
        email = normalizeEmail(request.query.email);
        if (!isValidEmail(email)) throw invalidRequest([{ field: 'query.email', message: 'must be an email address' }]);
      }
      return ctx.gateway.list({ status, email, scope }, pageSize, pageToken);
    },
  );
}
