/** `POST /v1/invites/:id/revoke`. */
import { z } from 'zod';
import { revokeUpdate } from '../../../workflows/messages';
import { errorBodySchema } from '../../errors';
import type { InviteRoutes } from './kit';
import { security } from './kit';
import { errors, idParams, inviteSchema, toView } from './schemas';

export function registerRevokeInvite({ app, ctx, requireScope, onOpenInvite }: InviteRoutes): void {
  app.post(
    '/v1/invites/:id/revoke',
    {
      onRequest: requireScope('invites:write'),
      schema: {
        summary: 'Revoke a pending invite',
        tags: ['invites'],
        security: security('invites:write'),
        params: idParams,
        body: z.strictObject({ reason: z.string().max(500).optional() }).default({}),
        response: { 200: inviteSchema, ...errors, 409: errorBodySchema, 410: errorBodySchema },
      },
    },
    async (request) => {
      const { id } = request.params;
      const reason = request.body.reason;
      const status = await onOpenInvite(id, () =>
        ctx.gateway.update(id, (h) => h.executeUpdate(revokeUpdate, { args: [reason ? { reason } : {}] })),
      );
      request.log.info({ inviteId: id, by: request.principal?.subject }, 'invite revoked');
      return toView(status);
    },
  );
}
