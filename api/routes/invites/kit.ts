/** What every invite route module shares: the typed app, the context, scope checks. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { WorkflowNotFoundError } from '@temporalio/client';
import { closedRefusal } from '../../../client/invite-refusals';
import type { Scope } from '../../auth';
import type { RouteContext } from '../../context';
import { apiErrorOf } from '../../errors';
import { withZod } from '../zod-app';
import type { ZodApp } from '../zod-app';

/** Handed to each route's registrar. */
export interface InviteRoutes {
  /** The plain instance (for plugins such as the inbound limiter). */
  fastify: FastifyInstance;
  app: ZodApp;
  ctx: RouteContext;
  /** An `onRequest` hook that admits a bearer token with this scope and sets `request.principal`. */
  requireScope: (scope: Scope) => (request: FastifyRequest) => Promise<void>;
  /** Runs an operator update, explaining a refusal by a closed invite. */
  onOpenInvite: <T>(inviteId: string, run: () => Promise<T>) => Promise<T>;
}

/** The OpenAPI security requirement of a bearer scope. */
export const security = (scope: Scope) => [{ bearerAuth: [scope] }];

export function inviteRoutes(fastify: FastifyInstance, ctx: RouteContext): InviteRoutes {
  return {
    fastify,
    app: withZod(fastify),
    ctx,
    requireScope: (scope) => async (request) => {
      request.principal = await ctx.bearer.authorize(request, scope);
    },
    async onOpenInvite(inviteId, run) {
      try {
        return await run();
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
        throw apiErrorOf(closedRefusal(await ctx.gateway.status(inviteId)));
      }
    },
  };
}
