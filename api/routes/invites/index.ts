/**
 * Invite routes for the funnel and operators: create (idempotent per email+scope), read, list,
 * revoke, resend, extend. Input is checked in full (zod, then the workflow's own
 * `resolveInviteInput`) before anything starts, so a bad request changes nothing. One module
 * per route; the shared schemas are in `schemas.ts`.
 */
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../../context';
import { registerCreateInvite } from './create';
import { registerExtendInvite } from './extend';
import { inviteRoutes } from './kit';
import { registerInviteHistory, registerReadInvite } from './read';
import { registerListInvites } from './list';
import { registerResendInvite } from './resend';
import { registerRevokeInvite } from './revoke';

/** Registers the invite routes (in this order, which is the OpenAPI document's). */
export function registerInviteRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  const routes = inviteRoutes(fastify, ctx);
  registerCreateInvite(routes);
  registerReadInvite(routes);
  registerInviteHistory(routes);
  registerListInvites(routes);
  registerRevokeInvite(routes);
  registerResendInvite(routes);
  registerExtendInvite(routes);
}
