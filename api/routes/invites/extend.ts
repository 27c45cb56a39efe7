/** `POST /v1/invites/:id/extend`: a later expiry and an email with a fresh link. */
import { z } from 'zod';
import { extendUpdate } from '../../../workflows/messages';
import { errorBodySchema } from '../../errors';
import type { InviteRoutes } from './kit';
import { security } from './kit';
import { durationSchema, errors, idParams, inviteSchema, toView } from './schemas';

export function registerExtendInvite({ app, ctx, requireScope, onOpenInvite }: InviteRoutes): void {
  app.post(
    '/v1/invites/:id/extend',
    {
      onRequest: requireScope('invites:write'),
      schema: {
        summary: 'Move the expiry to ttl from now and email a fresh link',
        tags: ['invites'],
        security: security('invites:write'),
        params: idParams,
        body: z.strictObject({ ttl: durationSchema }),
        response: {
          200: inviteSchema,
          202: inviteSchema.describe('Extended; the email with the new link is still being sent'),
          ...errors,
          409: errorBodySchema,
          410: errorBodySchema,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { ttl } = request.body;
      const outcome = await onOpenInvite(id, () =>
        ctx.gateway.emailUpdate(id, (h, waitForStage) => h.startUpdate(extendUpdate, { args: [{ ttl }], waitForStage })),
      );
      request.log.info({ inviteId: id, by: request.principal?.subject, done: outcome.done }, 'invite extended');
      if (outcome.done) return reply.code(200).send(toView(outcome.result));
      return reply.code(202).send(toView(await ctx.gateway.status(id)));
    },
  );
}
