/**
 * Delivery feedback from the mail provider: bounces and complaints mark the invite
 * `undeliverable` (no more emails; the funnel is told through its webhook). Two forms:
 * - `POST /v1/email-events`: a generic signed JSON event (`Inviteflow-Signature: t=…,v1=…`, HMAC
 *   of the raw body with `EMAIL_EVENTS_SECRET`), for any provider behind a small relay;
 * - `POST /v1/email-events/mailgun`: Mailgun's own webhook body, signed with its webhook signing key.
 * Signatures are checked before anything else, in constant time, with a 5-minute timestamp
 * tolerance; Mailgun's single-use tokens are remembered for that long, so a captured call cannot
 * be replayed on this process. The memory is per process: replayed on another replica, the same
 * event reaches the workflow, which takes a delivery failure only while pending, so the invite is
 * marked and the funnel told once (`test/integration/api/replicas.test.ts`). Mailgun signs the token, not the
 * body; see docs/production.md for what that leaves across replicas. Events about mail that is
 * not ours, or about closed invites, are answered 200 and ignored, so the provider stops
 * retrying them.
 */
import { z } from 'zod';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WorkflowNotFoundError } from '@temporalio/client';
import { deriveInviteId } from '../../client/invite-id';
import { inviteOfMessageId, SIGNATURE_HEADER, SIGNATURE_TOLERANCE_SECONDS, verifyMailgunSignature, verifyWebhookSignature } from '../../lib/webhook-signature';
import { isValidEmail, normalizeEmail } from '../../workflows/input';
import type { DeliveryFailure, DeliveryFailureKind } from '../../workflows/messages';
import type { RouteContext } from '../context';
import { ApiError, errorBodySchema } from '../errors';
import { withZod } from './zod-app';
import type { ZodApp } from './zod-app';

const INVITE_ID = /^[a-z0-9]{16,64}$/;
const SCOPE = /^[a-z0-9][a-z0-9:._-]{0,63}$/;

const genericEvent = z
  .strictObject({
    type: z.enum(['bounce', 'complaint']).describe('A permanent bounce, or a spam complaint'),
    inviteId: z.string().regex(INVITE_ID, 'must be an invite id').optional(),
    messageId: z.string().max(998).optional().describe('The Message-ID of the email (ours name the invite)'),
    email: z.string().max(320).optional().describe('With scope (default "default"): the invite of this address'),
    scope: z.string().regex(SCOPE, 'must be a scope').optional(),
    reason: z.string().max(300).optional().describe("The provider's diagnostic, e.g. \"550 5.1.1 user unknown\""),
  })
  .refine((e) => e.inviteId !== undefined || e.messageId !== undefined || e.email !== undefined, {
    message: 'must name the invite: inviteId, messageId, or email (and scope)',
  })
  .meta({ id: 'EmailEvent' });

// Mailgun's webhook body; only what we read is described, the rest is let through.
const mailgunEvent = z
  .looseObject({
    signature: z.looseObject({ timestamp: z.string().max(20), token: z.string().max(200), signature: z.string().max(128) }),
    'event-data': z.looseObject({
      event: z.string().max(40),
      severity: z.string().max(40).optional(),
      reason: z.string().max(200).optional(),
      'delivery-status': z.looseObject({ code: z.union([z.number(), z.string()]).optional() }).optional(),
      message: z.looseObject({ headers: z.looseObject({ 'message-id': z.string().max(998).optional() }).optional() }).optional(),
    }),
  })
  .meta({ id: 'MailgunEvent' });

const outcomeSchema = z
  .object({
    outcome: z.enum(['accepted', 'ignored']),
    inviteId: z.string().optional(),
    reason: z.string().optional().describe('Why an event was ignored: not_ours, event_ignored, unknown_invite, invite_closed'),
  })
  .meta({ id: 'EmailEventOutcome' });

type Outcome = z.infer<typeof outcomeSchema>;

const responses = {
  200: outcomeSchema.describe('Ignored (not ours, not a permanent failure, or the invite is closed)'),
  202: outcomeSchema.describe('Accepted: the invite is marked undeliverable'),
  400: errorBodySchema,
  401: errorBodySchema.describe('invalid_signature: missing, malformed, stale or wrong'),
  404: errorBodySchema.describe('not_found: this form is not configured'),
  503: errorBodySchema,
};

// Raw bodies of this scope's requests: the generic signature is over the exact bytes sent.
const rawBodies = new WeakMap<FastifyRequest, string>();
// Parsed in the scope's own parser so that unparsable JSON still meets the signature check first.
const UNPARSABLE = Symbol('unparsable');

/** Registers the email-event routes in their own scope (a JSON parser that keeps the raw body). */
export async function registerEmailEventRoutes(fastify: FastifyInstance, ctx: RouteContext): Promise<void> {
  await fastify.register((scope, _opts, done) => {
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, parsed) => {
      const text = body as string;
      rawBodies.set(request, text);
      try {
        parsed(null, JSON.parse(text));
      } catch {
        parsed(null, UNPARSABLE);
      }
    });
    routes(scope, ctx);
    done();
  });
}

const refuse = (problem: string): ApiError =>
  new ApiError('invalid_signature', `The signature is ${problem}`, undefined, { 'www-authenticate': 'Signature realm="inviteflow-email-events"' });

function routes(fastify: FastifyInstance, ctx: RouteContext): void {
  const app = withZod(fastify);
  registerGenericEvents(app, ctx);
  registerMailgunEvents(app, ctx);
}

function registerGenericEvents(app: ZodApp, ctx: RouteContext): void {
  const { config } = ctx;
  app.post(
    '/v1/email-events',
    {
      preValidation: (request) => Promise.resolve().then(() => checkGenericSignature(config.EMAIL_EVENTS_SECRET, request)),
      schema: {
        summary: 'A bounce or complaint from the mail provider, in the generic signed form',
        description:
          'Header `Inviteflow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with EMAIL_EVENTS_SECRET>`; t within 5 minutes.',
        tags: ['email events'],
        body: genericEvent,
        response: responses,
      },
    },
    async (request, reply): Promise<Outcome> => {
      const event = request.body;
      const fromMessage = event.messageId !== undefined ? inviteOfMessageId(event.messageId) : undefined;
      const inviteId = event.inviteId ?? fromMessage?.inviteId ?? inviteOfAddress(config.INVITE_ID_KEY, event);
      if (inviteId === undefined) return { outcome: 'ignored', reason: 'not_ours' };
      return apply(ctx, request, reply, inviteId, {
        kind: event.type,
        ...(fromMessage ? { sequence: fromMessage.sequence } : {}),
        ...(event.reason ? { reason: event.reason } : {}),
      });
    },
  );
}

/** Refuses a generic event unless configured and signed over its raw body; then unparsable JSON. */
function checkGenericSignature(secret: string | undefined, request: FastifyRequest): void {
  if (!secret) throw new ApiError('not_found', 'Generic email events are not configured (EMAIL_EVENTS_SECRET)');
  const header = request.headers[SIGNATURE_HEADER];
  const problem = verifyWebhookSignature(secret, typeof header === 'string' ? header : undefined, rawBodies.get(request) ?? '');
  if (problem) throw refuse(problem);
  if (request.body === UNPARSABLE) throw new ApiError('invalid_request', 'The body is not valid JSON');
}

/** The invite of the event's address and scope, when it names one. */
function inviteOfAddress(idKey: string, event: z.output<typeof genericEvent>): string | undefined {
  if (event.email === undefined) return undefined;
  const email = normalizeEmail(event.email);
  if (!isValidEmail(email)) throw new ApiError('invalid_request', 'The request is invalid', [{ field: 'email', message: 'must be an email address' }]);
  return deriveInviteId(idKey, email, event.scope ?? 'default');
}

function registerMailgunEvents(app: ZodApp, ctx: RouteContext): void {
  const seenTokens = new Map<string, number>();
  app.post(
    '/v1/email-events/mailgun',
    {
      preValidation: (request) => Promise.resolve().then(() => checkMailgunSignature(ctx.config.MAILGUN_WEBHOOK_SIGNING_KEY, seenTokens, request)),
      schema: {
        summary: "A bounce or complaint in Mailgun's webhook form (signed with the webhook signing key)",
        tags: ['email events'],
        body: mailgunEvent,
        response: responses,
      },
    },
    async (request, reply): Promise<Outcome> => {
      const data = request.body['event-data'];
      let kind: DeliveryFailureKind | undefined;
      if (data.event === 'failed' && data.severity === 'permanent') kind = 'bounce';
      else if (data.event === 'complained') kind = 'complaint';
      if (!kind) return { outcome: 'ignored', reason: 'event_ignored' };
      const messageId = data.message?.headers?.['message-id'];
      const ours = messageId !== undefined ? inviteOfMessageId(messageId) : undefined;
      if (!ours) return { outcome: 'ignored', reason: 'not_ours' };
      const code = data['delivery-status']?.code;
      const reason = [data.reason, code].filter((v) => v !== undefined && v !== '').join(' ');
      return apply(ctx, request, reply, ours.inviteId, { kind, sequence: ours.sequence, ...(reason ? { reason: `mailgun: ${reason}` } : {}) });
    },
  );
}

/**
 * Refuses a Mailgun event unless configured, signed with the key and fresh. Mailgun's token is
 * single-use: a second call with it is a replay (`seenTokens` keeps them for twice the tolerance).
 */
function checkMailgunSignature(key: string | undefined, seenTokens: Map<string, number>, request: FastifyRequest): void {
  if (!key) throw new ApiError('not_found', 'Mailgun events are not configured (MAILGUN_WEBHOOK_SIGNING_KEY)');
  const signature = mailgunEvent.shape.signature.safeParse((request.body as { signature?: unknown } | undefined)?.signature);
  if (!signature.success) throw refuse('missing');
  const now = Math.floor(Date.now() / 1000);
  const problem = verifyMailgunSignature(key, signature.data, now);
  if (problem) throw refuse(problem);
  for (const [token, until] of seenTokens) if (until < now) seenTokens.delete(token);
  if (seenTokens.has(signature.data.token)) throw refuse('already used');
  seenTokens.set(signature.data.token, now + 2 * SIGNATURE_TOLERANCE_SECONDS);
}

/** Marks the invite undeliverable; answers what happened. */
async function apply(ctx: RouteContext, request: FastifyRequest, reply: FastifyReply, inviteId: string, failure: DeliveryFailure): Promise<Outcome> {
  try {
    await ctx.gateway.deliveryFailed(inviteId, failure);
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    const existing = await ctx.gateway.existence(inviteId);
    const reason = existing.exists ? 'invite_closed' : 'unknown_invite';
    request.log.info({ inviteId, kind: failure.kind, reason }, 'email event ignored');
    return { outcome: 'ignored', inviteId, reason };
  }
  request.log.info({ inviteId, kind: failure.kind }, 'invite marked undeliverable');
  void reply.code(202);
  return { outcome: 'accepted', inviteId };
}
