/** `GET /v1/invites/:id` and `GET /v1/invites/:id/history`: an invite, also once closed. */
import type { InviteRoutes } from './kit';
import { security } from './kit';
import { errors, idParams, inviteSchema, lifecycleSchema, toView } from './schemas';

export function registerReadInvite({ app, ctx, requireScope }: InviteRoutes): void {
  app.get(
    '/v1/invites/:id',
    {
      onRequest: requireScope('invites:read'),
      schema: {
        summary: 'An invite and its status (also once closed)',
        tags: ['invites'],
        security: security('invites:read'),
        params: idParams,
        response: { 200: inviteSchema, ...errors },
      },
    },
    async (request) => toView(await ctx.gateway.status(request.params.id)),
  );
}

export function registerInviteHistory({ app, ctx, requireScope }: InviteRoutes): void {
  app.get(
    '/v1/invites/:id/history',
    {
      onRequest: requireScope('invites:read'),
      schema: {
        summary: "The invite's lifecycle as events: created, emailed, reminded, clicked, refused, redeemed, granted, linked, expired, …",
        tags: ['invites'],
        security: security('invites:read'),
        params: idParams,
        response: { 200: lifecycleSchema, ...errors },
      },
    },
    async (request) => {
      const { inviteId, events, omitted } = await ctx.gateway.history(request.params.id);
      return { id: inviteId, events, omitted };
    },
  );
}
