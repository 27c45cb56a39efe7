// The Management API v2 routes inviteflow uses, with Auth0's status codes, error bodies, bearer
// token and scope checks, and its global rate limit (a token bucket, answered with the
// `x-ratelimit-*` headers on every response).
import { STATUS_CODES } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errors as joseErrors } from 'jose';
import { z } from 'zod';
import { Auth0ApiError, toApiUser } from './store';
import type { Auth0Store, NewUser, UserPatch } from './store';
import { verifyToken } from './tokens';

/** Auth0's Management API error body. */
export interface Auth0ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  errorCode?: string;
}

/** Builds the error body Auth0 answers for `status`. */
export function auth0ErrorBody(status: number, message: string, errorCode?: string): Auth0ErrorBody {
  return {
    statusCode: status,
    error: STATUS_CODES[status] ?? 'Error',
    message,
    ...(errorCode === undefined ? {} : { errorCode }),
  };
}

/** The state of the rate limit after one request, as sent in the `x-ratelimit-*` headers. */
export interface RateLimitState {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Unix seconds when the bucket is full again. */
  reset: number;
}

/** Free-tier-like numbers shown in the headers when no limit is enforced. */
const NOMINAL_PER_SECOND = 50;

/**
 * Auth0's global Management API limit: a bucket of `burst` requests refilled at `perSecond`.
 * Without `perSecond` the headers are still sent but no request is refused.
 */
export class ManagementRateLimiter {
  private rate = NOMINAL_PER_SECOND;
  private capacity = NOMINAL_PER_SECOND;
  private enforced = false;
  private tokens = NOMINAL_PER_SECOND;
  private last = Date.now();

  constructor(perSecond?: number, burst?: number) {
    this.configure(perSecond, burst);
  }

  /** Replaces the limit and starts with a full bucket; `undefined` switches enforcement off. */
  configure(perSecond?: number, burst?: number): void {
    if (perSecond !== undefined && !(perSecond > 0)) throw new Error('rateLimitPerSecond must be positive');
    if (burst !== undefined && !(burst >= 1)) throw new Error('rateLimitBurst must be at least 1');
    this.enforced = perSecond !== undefined;
    this.rate = perSecond ?? NOMINAL_PER_SECOND;
    this.capacity = burst ?? Math.max(1, Math.floor(this.rate));
    this.tokens = this.capacity;
    this.last = Date.now();
  }

  private refill(now: number): void {
    const elapsed = Math.max(0, now - this.last);
    this.tokens = Math.min(this.capacity, this.tokens + (elapsed / 1000) * this.rate);
    this.last = Math.max(this.last, now);
  }

  private state(allowed: boolean, now: number): RateLimitState {
    const msUntilFull = ((this.capacity - this.tokens) / this.rate) * 1000;
    return {
      allowed,
      limit: this.capacity,
      remaining: Math.floor(this.tokens),
      reset: Math.ceil((now + msUntilFull) / 1000),
    };
  }

  /** Takes one request from the bucket. */
  take(now = Date.now()): RateLimitState {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return this.state(true, now);
    }
    if (!this.enforced) return this.state(true, now);
    return this.state(false, now);
  }

  /** The current state without taking a request. */
  peek(now = Date.now()): RateLimitState {
    this.refill(now);
    return this.state(true, now);
  }
}

/** Sets the `x-ratelimit-*` headers Auth0 sends on Management API responses. */
export function setRateLimitHeaders(reply: FastifyReply, state: RateLimitState): void {
  void reply
    .header('x-ratelimit-limit', String(state.limit))
    .header('x-ratelimit-remaining', String(state.remaining))
    .header('x-ratelimit-reset', String(state.reset));
}

/** The body of a 429 from the global limit, byte for byte what Auth0 answers. */
export const GLOBAL_LIMIT_BODY = auth0ErrorBody(429, 'Global limit has been reached', 'too_many_requests');

const scopesOf = new WeakMap<FastifyRequest, string[]>();

/** Whether the request's token carries the scope (for answers that differ by scope). */
export function hasScope(request: FastifyRequest, scope: string): boolean {
  return (scopesOf.get(request) ?? []).includes(scope);
}

/** Refuses the request with Auth0's 403 unless its token has one of the scopes. */
export function requireScope(request: FastifyRequest, anyOf: string[]): void {
  const granted = scopesOf.get(request) ?? [];
  if (!anyOf.some((s) => granted.includes(s)))
    throw new Auth0ApiError(
      403,
      'insufficient_scope',
      `Insufficient scope, expected any of: ${anyOf.join(',')}`,
    );
}

const metadata = z.record(z.string(), z.unknown());

const createUserBody = z.strictObject({
  connection: z.string().min(1),
  email: z.email().optional(),
  password: z.string().min(1).optional(),
  email_verified: z.boolean().optional(),
  verify_email: z.boolean().optional(),
  phone_number: z.string().optional(),
  phone_verified: z.boolean().optional(),
  user_metadata: metadata.optional(),
  app_metadata: metadata.optional(),
  given_name: z.string().min(1).optional(),
  family_name: z.string().min(1).optional(),
  name: z.string().min(1).optional(),
  nickname: z.string().min(1).optional(),
  picture: z.string().min(1).optional(),
  user_id: z.string().min(1).optional(),
  blocked: z.boolean().optional(),
  username: z.string().min(1).optional(),
});

const patchUserBody = z.strictObject({
  blocked: z.boolean().optional(),
  email_verified: z.boolean().optional(),
  email: z.email().nullable().optional(),
  phone_number: z.string().nullable().optional(),
  phone_verified: z.boolean().optional(),
  user_metadata: metadata.optional(),
  app_metadata: metadata.optional(),
  given_name: z.string().min(1).nullable().optional(),
  family_name: z.string().min(1).nullable().optional(),
  name: z.string().min(1).nullable().optional(),
  nickname: z.string().min(1).nullable().optional(),
  picture: z.string().min(1).nullable().optional(),
  verify_email: z.boolean().optional(),
  verify_phone_number: z.boolean().optional(),
  password: z.string().min(1).nullable().optional(),
  connection: z.string().min(1).optional(),
  client_id: z.string().min(1).optional(),
  username: z.string().min(1).nullable().optional(),
});

// `link_with` (a secondary's ID token, for links the signed-in user starts) excludes the others.
const linkIdentityBody = z.strictObject({
  provider: z.string().min(1).optional(),
  user_id: z.union([z.string().min(1), z.number()]).optional(),
  connection_id: z
    .string()
    .regex(/^con_[A-Za-z0-9]{16}$/)
    .optional(),
  link_with: z.string().min(1).optional(),
});

const assignRolesBody = z.strictObject({ roles: z.array(z.string().min(1)).min(1) });

const createRoleBody = z.strictObject({ name: z.string().min(1), description: z.string().optional() });

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/**
 * Validates a body or query like Auth0: schema violations answer 400 "Payload validation error: '…'";
 * the exact wording matters less than the status and `errorCode`, which clients switch on.
 */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown, kind: 'Payload' | 'Query' = 'Payload'): T {
  if (kind === 'Payload' && (typeof body !== 'object' || body === null || Array.isArray(body))) {
    throw new Auth0ApiError(
      400,
      'invalid_body',
      `Payload validation error: 'Expected type object but found type ${Array.isArray(body) ? 'array' : typeof body}'.`,
    );
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const errorCode = kind === 'Payload' ? 'invalid_body' : 'invalid_query_string';
  if (!issue) throw new Auth0ApiError(400, errorCode, `${kind} validation error.`);
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys')
    throw new Auth0ApiError(
      400,
      errorCode,
      `${kind} validation error: 'Additional properties not allowed: ${issue.keys.join(',')}'.`,
    );
  if (issue.code === 'invalid_type' && valueAt(body, issue.path) === undefined) {
    throw new Auth0ApiError(
      400,
      errorCode,
      `${kind} validation error: 'Missing required property: ${path}'.`,
    );
  }
  throw new Auth0ApiError(
    400,
    errorCode,
    `${kind} validation error: '${issue.message}' on property ${path}.`,
  );
}

const pagination = z.object({
  per_page: z.coerce.number().int().min(1).max(100).default(50),
  page: z.coerce.number().int().min(0).default(0),
  include_totals: z.enum(['true', 'false']).default('false'),
});

/** Auth0's offset pagination: `?page&per_page`, a bare array or `{key, start, limit, total}`. */
export function paginate<T>(items: T[], query: unknown, key: string): unknown {
  const {
    per_page: perPage,
    page,
    include_totals: includeTotals,
  } = parseBody(pagination, query ?? {}, 'Query');
  const slice = items.slice(page * perPage, page * perPage + perPage);
  return includeTotals === 'true'
    ? { [key]: slice, start: page * perPage, limit: perPage, total: items.length }
    : slice;
}

const fieldsQuery = z.object({
  fields: z.string().optional(),
  include_fields: z.enum(['true', 'false']).default('true'),
});

/** Applies `?fields=a,b&include_fields=true|false` to one object of the answer. */
export function selectFields(user: object, query: unknown): object {
  const { fields, include_fields: includeFields } = parseBody(fieldsQuery, query ?? {}, 'Query');
  if (!fields) return user;
  const names = new Set(
    fields
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean),
  );
  return Object.fromEntries(
    Object.entries(user).filter(([key]) => names.has(key) === (includeFields === 'true')),
  );
}

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const [scheme, token] = header.split(' ');
  return scheme?.toLowerCase() === 'bearer' && token ? token : '';
}

/** Registers the Management API under `/api/v2` with rate limiting, bearer auth and scope checks. */
export function registerManagementRoutes(
  app: FastifyInstance,
  opts: {
    store: Auth0Store;
    limiter: ManagementRateLimiter;
    /** More route groups under `/api/v2`, behind the same rate limit, token and error handling. */
    extraRoutes?: ((api: FastifyInstance) => void)[];
  },
): void {
  const { store, limiter } = opts;

  void app.register(
    (api, _options, done) => {
      api.addHook('onRequest', async (_request, reply) => {
        const state = limiter.take();
        setRateLimitHeaders(reply, state);
        if (!state.allowed) return reply.code(429).send(GLOBAL_LIMIT_BODY);
      });

      api.addHook('onRequest', async (request, reply) => {
        const token = bearerToken(request);
        if (token === undefined)
          return reply
            .code(401)
            .send(auth0ErrorBody(401, 'Missing authentication', 'missing_authentication'));
        try {
          const payload = await verifyToken(store.key, token, {
            issuer: store.issuer,
            audience: store.managementAudience,
          });
          scopesOf.set(request, typeof payload.scope === 'string' ? payload.scope.split(' ') : []);
        } catch (e) {
          const expired = e instanceof joseErrors.JWTExpired;
          return reply
            .code(401)
            .send(
              auth0ErrorBody(
                401,
                expired ? 'Expired token received for JSON Web Token validation' : 'Invalid token',
                expired ? 'token_expired' : 'invalid_token',
              ),
            );
        }
      });

      api.setErrorHandler((error: unknown, _request, reply) => {
        if (error instanceof Auth0ApiError)
          return reply
            .code(error.statusCode)
            .send(auth0ErrorBody(error.statusCode, error.message, error.errorCode));
        const status =
          typeof error === 'object' &&
          error !== null &&
          'statusCode' in error &&
          typeof error.statusCode === 'number'
            ? error.statusCode
            : 500;
        if (status === 400 || status === 415)
          return reply
            .code(400)
            .send(auth0ErrorBody(400, 'Invalid request payload JSON format', 'invalid_body'));
        return reply.code(500).send(auth0ErrorBody(500, 'Internal Server Error'));
      });

      api.setNotFoundHandler((_request, reply) => reply.code(404).send(auth0ErrorBody(404, 'Not Found')));

      api.post('/users', async (request, reply) => {
        requireScope(request, ['create:users']);
        const body = parseBody(createUserBody, request.body);
        if (!body.email)
          throw new Auth0ApiError(
            400,
            'invalid_body',
            "Payload validation error: 'Missing required property: email'.",
          );
        if (!body.password)
          throw new Auth0ApiError(
            400,
            'invalid_body',
            "Payload validation error: 'Missing required property: password'.",
          );
        const input: NewUser = { ...body, email: body.email };
        const user = store.createUser(input);
        return reply.code(201).send(toApiUser(user));
      });

      api.get<{ Params: { id: string } }>('/users/:id', (request) => {
        requireScope(request, ['read:users']);
        return selectFields(toApiUser(store.requireUser(request.params.id)), request.query);
      });

      api.patch<{ Params: { id: string } }>('/users/:id', (request) => {
        requireScope(request, ['update:users', 'update:users_app_metadata']);
        const body = parseBody(patchUserBody, request.body);
        if (Object.keys(body).length === 0)
          throw new Auth0ApiError(
            400,
            'invalid_body',
            "Payload validation error: 'Too few properties defined (0), minimum 1'.",
          );
        const patch: UserPatch = {};
        for (const key of [
          'email',
          'email_verified',
          'blocked',
          'name',
          'nickname',
          'given_name',
          'family_name',
          'username',
          'picture',
          'password',
          'app_metadata',
          'user_metadata',
        ] as const) {
          if (body[key] !== undefined) Object.assign(patch, { [key]: body[key] });
        }
        return toApiUser(store.updateUser(request.params.id, patch));
      });

      api.get('/users-by-email', (request) => {
        requireScope(request, ['read:users']);
        const { email } = parseBody(z.object({ email: z.string().min(1) }), request.query ?? {}, 'Query');
        return store.usersByEmail(email).map((u) => selectFields(toApiUser(u), request.query));
      });

      // Account linking with a Management API token (`update:users`): the secondary, named by
      // provider and id, joins the primary's identities and stops being a user.
      api.post<{ Params: { id: string } }>('/users/:id/identities', async (request, reply) => {
        requireScope(request, ['update:users', 'update:current_user_identities']);
        const body = parseBody(linkIdentityBody, request.body);
        if (body.link_with !== undefined) {
          if (body.provider !== undefined || body.user_id !== undefined || body.connection_id !== undefined)
            throw new Auth0ApiError(
              400,
              'invalid_body',
              "Payload validation error: 'link_with' must not be sent with 'provider', 'user_id' or 'connection_id'.",
            );
          throw new Auth0ApiError(
            400,
            'invalid_body',
            'The emulator links accounts with provider and user_id only, not with link_with.',
          );
        }
        if (body.provider === undefined)
          throw new Auth0ApiError(
            400,
            'invalid_body',
            "Payload validation error: 'Missing required property: provider'.",
          );
        if (body.user_id === undefined)
          throw new Auth0ApiError(
            400,
            'invalid_body',
            "Payload validation error: 'Missing required property: user_id'.",
          );
        const identities = store.link(request.params.id, {
          provider: body.provider,
          user_id: String(body.user_id),
          ...(body.connection_id === undefined ? {} : { connection_id: body.connection_id }),
        });
        return reply.code(201).send(identities);
      });

      api.delete<{ Params: { id: string; provider: string; userId: string } }>(
        '/users/:id/identities/:provider/:userId',
        (request) => {
          requireScope(request, ['update:users', 'update:current_user_identities']);
          return store.unlink(request.params.id, request.params.provider, request.params.userId);
        },
      );

      api.get<{ Params: { id: string } }>('/users/:id/roles', (request) => {
        requireScope(request, ['read:users', 'read:roles', 'read:role_members']);
        return paginate(store.rolesOf(request.params.id), request.query, 'roles');
      });

      api.post<{ Params: { id: string } }>('/users/:id/roles', async (request, reply) => {
        requireScope(request, ['create:role_members']);
        const { roles } = parseBody(assignRolesBody, request.body);
        store.assignRoles(request.params.id, roles);
        return reply.code(204).send();
      });

      api.get('/roles', (request) => {
        requireScope(request, ['read:roles']);
        const { name_filter: nameFilter } = parseBody(
          z.object({ name_filter: z.string().optional() }),
          request.query ?? {},
          'Query',
        );
        return paginate(store.listRoles(nameFilter), request.query, 'roles');
      });

      api.post('/roles', async (request, reply) => {
        requireScope(request, ['create:roles']);
        const { name, description } = parseBody(createRoleBody, request.body);
        return reply.code(200).send(store.createRole(name, description));
      });

      api.get<{ Params: { id: string } }>('/roles/:id', (request) => {
        requireScope(request, ['read:roles']);
        return store.requireRole(request.params.id);
      });

      api.delete<{ Params: { id: string } }>('/roles/:id', async (request, reply) => {
        requireScope(request, ['delete:roles']);
        store.deleteRole(request.params.id);
        return reply.code(200).send();
      });

      for (const register of opts.extraRoutes ?? []) register(api);

      done();
    },
    { prefix: '/api/v2' },
  );
}
