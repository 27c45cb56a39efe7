/** The app with routes typed by their zod schemas, as the route modules take it. */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';

export const withZod = (fastify: FastifyInstance) => fastify.withTypeProvider<ZodTypeProvider>();

export type ZodApp = ReturnType<typeof withZod>;
