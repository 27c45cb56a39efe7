/**
 * The codec endpoint of the Temporal UI and CLI (`--ui-codec-endpoint http://api/codec`,
 * `temporal workflow show --codec-endpoint … --codec-auth 'Bearer …'`): `POST /codec/decode` and
 * `/codec/encode` with the codec server protocol, `{ payloads: [{ metadata, data }] }` with
 * base64 bytes. Decrypting invite data is reading it, so a bearer token with `invites:decode` is
 * required (the UI forwards its user's access token with "Pass access token"); CORS admits only
 * the UI's origin. Registered only when PAYLOAD_KEYS is set. In local development only
 * (`CODEC_LOOPBACK_WITHOUT_TOKEN`, set by `npm run dev`), a request from this machine without a
 * token is answered too, so the dev server's UI decodes invites with no sign-in.
 */
import { z } from 'zod';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { RouteContext } from '../context';
import { ApiError } from '../errors';

/** What the codec routes need besides the shared context. */
export interface CodecRouteOptions {
  codec: PayloadCodec;
  /** The Temporal UI's origin (`CODEC_CORS_ORIGIN`). */
  corsOrigin: string;
  /** The one namespace this service's payloads live in; another `X-Namespace` is refused. */
  namespace: string;
  /** Local development: answer a tokenless request coming from this machine (`isLocalRequest`). */
  loopbackWithoutToken?: boolean;
}

const LOOPBACK_ADDRESSES = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * A request made on this machine by the local Temporal UI or CLI: loopback peer and Host (a
 * DNS-rebound page names its own host), no proxy headers (a local reverse proxy would relay
 * strangers), and no browser Origin other than the UI's (another site open in the developer's
 * browser reaches loopback too).
 */
export function isLocalRequest(request: FastifyRequest, uiOrigin: string): boolean {
  const { headers } = request;
  if (!LOOPBACK_ADDRESSES.has(request.socket.remoteAddress ?? '')) return false;
  if (headers['x-forwarded-for'] !== undefined || headers.forwarded !== undefined || headers['x-real-ip'] !== undefined) return false;
  if (headers.origin !== undefined && headers.origin !== uiOrigin) return false;
  const host = /^(\[[^\]]+\]|[^:]+)(:\d+)?$/.exec(headers.host ?? '')?.[1]?.toLowerCase();
  return host !== undefined && LOOPBACK_HOSTS.has(host);
}

/** Most payloads one call may carry; a history page the UI decodes stays far below it. */
export const MAX_CODEC_PAYLOADS = 1000;

/** Largest codec request; a page of history outgrows the API's 32 kB limit for invites. */
export const CODEC_BODY_LIMIT_BYTES = 4 * 1024 * 1024;

const base64 = z.string().max(1_000_000).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
const payloadsBody = z
  .object({
    payloads: z
      .array(z.object({ metadata: z.record(z.string(), base64).optional(), data: base64.optional() }))
      .max(MAX_CODEC_PAYLOADS),
  })
  .meta({ id: 'CodecPayloads' });

type JsonPayloads = z.infer<typeof payloadsBody>;

const fromJson = ({ payloads }: JsonPayloads): Payload[] =>
  payloads.map((p) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(p.data ?? '', 'base64'),
  }));

const toJson = (payloads: Payload[]): JsonPayloads => ({
  payloads: payloads.map((p) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  })),
});

/** Registers `POST /codec/encode`, `POST /codec/decode` and their CORS preflights. */
export function registerCodecRoutes(fastify: FastifyInstance, ctx: RouteContext, opts: CodecRouteOptions): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  const cors = (request: FastifyRequest, reply: FastifyReply) => {
    if (request.headers.origin !== opts.corsOrigin) return;
    reply.headers({
      'access-control-allow-origin': opts.corsOrigin,
      'access-control-allow-credentials': 'true',
      vary: 'Origin',
    });
  };

  for (const op of ['encode', 'decode'] as const) {
    const url = `/codec/${op}`;
    app.options(url, { schema: { hide: true } }, (request, reply) => {
      cors(request, reply);
      return reply
        .code(204)
        .headers({
          'access-control-allow-methods': 'POST',
          'access-control-allow-headers': 'authorization, content-type, x-namespace',
          'access-control-max-age': '600',
        })
        .send();
    });
    app.post(
      url,
      {
        bodyLimit: CODEC_BODY_LIMIT_BYTES,
        onRequest: async (request, reply) => {
          // Refusals carry the CORS headers too, so the UI can show why instead of a network error.
          cors(request, reply);
          if (opts.loopbackWithoutToken && request.headers.authorization === undefined && isLocalRequest(request, opts.corsOrigin)) return;
          request.principal = await ctx.bearer.authorize(request, 'invites:decode');
        },
        schema: {
          summary: op === 'decode' ? 'Decrypt payloads for the Temporal UI or CLI' : 'Encrypt payloads for the Temporal UI or CLI',
          tags: ['operations'],
          security: [{ bearerAuth: [] }],
          body: payloadsBody,
        },
      },
      async (request) => {
        const namespace = request.headers['x-namespace'];
        if (typeof namespace === 'string' && namespace !== '' && namespace !== opts.namespace) {
          throw new ApiError('invalid_request', `This codec serves namespace "${opts.namespace}" only`);
        }
        try {
          return toJson(await opts.codec[op](fromJson(request.body)));
        } catch (err) {
          request.log.warn({ err: { message: (err as Error).message } }, `codec ${op} refused`);
          throw new ApiError('invalid_request', (err as Error).message);
        }
      },
    );
  }
}
