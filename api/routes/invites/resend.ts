/** `POST /v1/invites/:id/resend`: a fresh link, rate limited per invite. */
import { resendUpdate } from '../../../workflows/messages';
import type { SentEmailRecord } from '../../../workflows/messages';
import { errorBodySchema } from '../../errors';
import { inboundLimit } from '../../inbound-limiter';
import type { InviteRoutes } from './kit';
import { security } from './kit';
import { errors, idParams, resendSchema, selfLink } from './schemas';

export function registerResendInvite({ fastify, app, ctx, requireScope, onOpenInvite }: InviteRoutes): void {
  const resendLimit = inboundLimit(fastify, 'resend-invite', ctx.limits.resendPerInvite, (request) => (request.params as { id: string }).id);
  app.post(
    '/v1/invites/:id/resend',
    {
      onRequest: requireScope('invites:write'),
      preHandler: resendLimit,
      schema: {
        summary: 'Email the invite again with a fresh link (rate limited)',
        tags: ['invites'],
        security: security('invites:write'),
        params: idParams,
        response: {
          200: resendSchema.describe('The email was sent'),
          202: resendSchema.describe('Accepted; the email is still being sent'),
          ...errors,
          409: errorBodySchema,
          410: errorBodySchema,
          429: errorBodySchema,
          502: errorBodySchema,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const outcome = await onOpenInvite(id, () => ctx.gateway.emailUpdate(id, (h, waitForStage) => h.startUpdate(resendUpdate, { waitForStage })));
      request.log.info({ inviteId: id, by: request.principal?.subject, done: outcome.done }, 'invite resent');
      const links = { self: selfLink(id) };
      if (!outcome.done) return reply.code(202).send({ id, links });
      const { linkId: _linkId, ...sent }: SentEmailRecord = outcome.result;
      return reply.code(200).send({ id, sent, links });
    },
  );
}
