/**
 * Operational routes: liveness (the process answers), readiness (Temporal answers), Prometheus
 * metrics. Meant for the platform's probes and scraper, so they take no authentication; expose
 * them on an internal network only.
 */
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { RouteContext } from '../context';
import { errorBodySchema } from '../errors';

/** Registers `/healthz`, `/readyz` and `/metrics`. */
export function registerHealthRoutes(fastify: FastifyInstance, ctx: RouteContext): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  app.get(
    '/healthz',
    { schema: { summary: 'Liveness: the process is up', tags: ['operations'], response: { 200: z.object({ status: z.literal('ok') }) } } },
    () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: Temporal is reachable',
        tags: ['operations'],
        response: { 200: z.object({ status: z.literal('ready') }), 503: errorBodySchema },
      },
    },
    async () => {
      await ctx.gateway.ping();
      return { status: 'ready' as const };
    },
  );

  app.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics', tags: ['operations'], produces: ['text/plain'] } },
    async (_request, reply) => {
      const text = await ctx.metrics.registry.metrics();
      return reply.header('content-type', ctx.metrics.registry.contentType).send(text);
    },
  );
}
