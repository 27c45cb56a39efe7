// A local stand-in for an Auth0 tenant: the Management API v2 routes inviteflow uses (users, roles,
// Actions and trigger bindings, and for the tenant setup script APIs, applications and client
// grants), the token endpoint, and a Universal-Login-like browser login
// (sign up, sign in, emulated Google and Facebook) that runs the deployed post-login Actions and
// issues real signed tokens. It speaks Auth0's wire format so the unchanged `auth0` SDK and any
// OIDC client can drive it. `/__emulator/*` routes (not part of Auth0) inspect it and switch
// faults on. It shares no code with the product: the Action code it runs is what it was given.
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  CONTROL_PREFIX,
  FaultInjector,
  installFaultHook,
  registerControlRoutes,
  RequestCounter,
} from '../fault-injection';
import type { FaultInput, FaultRule, LatencyRule } from '../fault-injection';
import {
  auth0ErrorBody,
  GLOBAL_LIMIT_BODY,
  ManagementRateLimiter,
  registerManagementRoutes,
  setRateLimitHeaders,
} from './management';
import type { RateLimitState } from './management';
import { registerActionRoutes } from './actions-api';
import { registerApplicationRoutes } from './applications-api';
import { ApplicationsStore } from './applications-store';
import type { NewResourceServer, RolePermission, StoredResourceServer } from './applications-store';
import { ActionRuntime, DEFAULT_FLOW_BUDGET_MS } from './actions-runtime';
import { ActionsStore } from './actions-store';
import type { RunnableAction } from './actions-store';
import { registerLoginRoutes } from './login';
import { LoginState } from './login-state';
import { clientCredentialsGrant, registerCors, registerOAuthRoutes } from './oauth';
import type { GrantHandler } from './oauth';
import { PostLoginFlow } from './post-login-flow';
import type { FlowRecord } from './post-login-flow';
import { createAuth0Store, DEFAULT_SPA_CLIENT_ID, toApiUser } from './store';
import type {
  ApiIdentity,
  ApiUser,
  Auth0ClientRegistration,
  Auth0Store,
  ClientGrant,
  NewUser,
  SocialConnection,
  StoredRole,
} from './store';
import { authorizationCodeGrant, refreshTokenGrant, registerUserinfoRoute } from './user-tokens';

export type {
  Auth0ClientRegistration,
  ApiIdentity,
  ApiUser,
  AppType,
  ClientGrant,
  NewUser,
  ProfileData,
  StoredRole,
} from './store';
export type { PostLoginApi } from './actions-runtime';
export { DEFAULT_SPA_CALLBACKS, DEFAULT_SPA_CLIENT_ID } from './store';
export type { FlowRecord } from './post-login-flow';
export type { NewResourceServer, RolePermission, StoredResourceServer } from './applications-store';
export type { RunnableAction } from './actions-store';
export { SESSION_COOKIE } from './login';
export type { FaultInput, FaultRule, LatencyRule } from '../fault-injection';

/** A post-login Action installed (deployed and bound) when the emulator starts and after `reset()`. */
export interface InitialAction {
  name: string;
  /** The CommonJS code, e.g. `actions/dist/post-login.js` read as text. */
  code?: string;
  /** A file to read the code from instead of `code`. */
  file?: string;
  secrets?: Record<string, string>;
}

/** Settings of the default single-page application `inviteflow-spa`. */
export interface SpaClientOptions {
  /** The application's name, which Universal Login shows ("Log in to <name>"); default `Acme`. */
  name?: string;
  /** Allowed Callback URLs; default `http://localhost:3000/callback` and `http://127.0.0.1:3000/callback`. */
  callbacks?: string[];
  /** Allowed Logout URLs; default the callbacks' origins. */
  allowedLogoutUrls?: string[];
  /** Allowed Origins (CORS) besides the callbacks' origins. */
  allowedOrigins?: string[];
}

/** How to start the emulator; every field has a development default. */
export interface Auth0EmulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** The fake tenant name; default `inviteflow-dev.auth0.local`. */
  domain?: string;
  /** Enforce Auth0's global Management API limit (the free tier allows 2 per second). Default off. */
  rateLimitPerSecond?: number;
  /** Bucket size for that limit; default `max(1, floor(rateLimitPerSecond))`. */
  rateLimitBurst?: number;
  /** Applications registered besides the default `inviteflow-m2m`. */
  clients?: Auth0ClientRegistration[];
  /** Access token lifetime; Auth0's default for machine-to-machine tokens is a day. */
  tokenLifetimeSeconds?: number;
  /** The default SPA's callback, logout and CORS settings. */
  spa?: SpaClientOptions;
  /** Post-login Actions to install at start, in binding order. */
  actions?: InitialAction[];
  /** How long Auth0 "builds" an Action draft before it can be deployed; default 0. */
  actionBuildDelayMs?: number;
  /** Time budget of the whole post-login flow; Auth0's is 20 s. */
  actionBudgetMs?: number;
  /** Print what Actions log (`console.log`) to this process's console; default off. */
  logActions?: boolean;
}

/** What `GET /__emulator/state` and `state()` return. */
export interface Auth0EmulatorState {
  domain: string;
  users: (ApiUser & { roles: string[] })[];
  roles: StoredRole[];
  clients: { clientId: string; name?: string; grants: ClientGrant[] }[];
  /** The tenant's APIs, the Management API included. */
  resourceServers: StoredResourceServer[];
  counts: Record<string, number>;
  faults: { faults: FaultRule[]; latencies: LatencyRule[] };
  rateLimit: RateLimitState;
  actions: ReturnType<ActionsStore['snapshot']>;
  /** The latest post-login flows with what each Action logged, like Auth0's execution logs. */
  flows: FlowRecord[];
}

/** A running emulator with helpers for tests in the same process. */
export interface Auth0Emulator {
  /** `http://127.0.0.1:PORT`, to be used as the SDK's endpoint. */
  url: string;
  /** The tenant domain the SDK is configured with (`https://<domain>` is rewritten to `url`). */
  domain: string;
  /** The tenant's state, shared with route modules. */
  store: Auth0Store;
  /** `https://<domain>/`, the `iss` of every token. */
  issuer: string;
  /** Client id of the default single-page application (a public client: PKCE, no secret). */
  spaClientId: string;
  /** Deploys and binds an Action to post-login directly (same as through the Management API). */
  installAction(action: { name: string; code: string; secrets?: Record<string, string> }): { id: string };
  /** The deployed code and secrets of the Actions bound to post-login, in execution order. */
  boundActions(): RunnableAction[];
  /** Creates a user directly (no token, no rate limit); returns it in the API shape. */
  createUser(input: NewUser): ApiUser;
  /**
   * The user a social identity provider vouched for, as its first login makes it (verified email,
   * `google-oauth2|<digits>`); the one already there when the address has one on that connection.
   * The Management API cannot create social users, as in Auth0: this is the test's stand-in for
   * that first login.
   */
  socialUser(connection: SocialConnection, profile: { email: string; name?: string }): ApiUser;
  /** The user in the API shape with role names, or undefined (also for an identity linked into another user). */
  getUser(userId: string): (ApiUser & { roles: string[] }) | undefined;
  /**
   * Links the user `secondaryUserId` into `primaryUserId` directly (same as
   * `POST /api/v2/users/{primary}/identities`); returns the primary's identities.
   */
  linkUsers(primaryUserId: string, secondaryUserId: string): ApiIdentity[];
  /** Users whose email is exactly `email` (same as `GET /api/v2/users-by-email`). */
  usersByEmail(email: string): ApiUser[];
  /** Creates a role directly. */
  createRole(name: string, description?: string): StoredRole;
  /** Deletes a role directly, as an administrator would in the dashboard (users lose it too). */
  deleteRole(roleId: string): void;
  /** Assigns roles by id directly. */
  assignRoles(userId: string, roleIds: string[]): void;
  /** Creates an API (resource server) directly (same as `POST /api/v2/resource-servers`). */
  createResourceServer(input: NewResourceServer): StoredResourceServer;
  /** Adds permissions to a role directly (same as `POST /api/v2/roles/{id}/permissions`). */
  addRolePermissions(roleId: string, permissions: RolePermission[]): void;
  /** Adds or replaces an application. */
  registerClient(client: Auth0ClientRegistration): void;
  /** Arms a fault or latency rule (same body as `POST /__emulator/faults`). */
  injectFault(rule: FaultInput): void;
  /** Disarms every fault and latency rule. */
  clearFaults(): void;
  /** Changes the enforced rate limit; `undefined` switches it off. Starts with a full bucket. */
  setRateLimit(perSecond?: number, burst?: number): void;
  /**
   * Forgets users, roles, counts, faults, sessions and Actions created through the API; the
   * signing key, the applications and the Actions given as options stay.
   */
  reset(): void;
  /** Users with roles, metadata and identities (linked ones included), roles, applications, counts, faults. */
  state(): Auth0EmulatorState;
  /** Requests per route key, e.g. `PATCH /api/v2/users/:id`. */
  readonly counts: Record<string, number>;
  close(): Promise<void>;
}

/** Starts an Auth0 emulator; resolves once it listens. */
export async function startAuth0Emulator(opts: Auth0EmulatorOptions = {}): Promise<Auth0Emulator> {
  const domain = opts.domain ?? 'inviteflow-dev.auth0.local';
  const store = await createAuth0Store({
    domain,
    ...(opts.clients ? { clients: opts.clients } : {}),
    ...(opts.spa ? { spa: opts.spa } : {}),
  });
  const limiter = new ManagementRateLimiter(opts.rateLimitPerSecond, opts.rateLimitBurst);
  const faults = new FaultInjector();
  const counter = new RequestCounter();
  const actions = new ActionsStore(opts.actionBuildDelayMs ?? 0);
  const applications = new ApplicationsStore(store);
  const loginState = new LoginState();
  const flow = new PostLoginFlow(
    store,
    actions,
    new ActionRuntime(opts.actionBudgetMs ?? DEFAULT_FLOW_BUDGET_MS),
    {
      logToConsole: opts.logActions ?? false,
    },
  );
  const initialActions = (opts.actions ?? []).map((a) => {
    const code = a.code ?? (a.file ? readFileSync(a.file, 'utf8') : undefined);
    if (code === undefined) throw new Error(`Action ${a.name}: give its code or a file`);
    return { name: a.name, code, ...(a.secrets ? { secrets: a.secrets } : {}) };
  });
  const installInitialActions = (): void => {
    for (const action of initialActions) actions.install(action);
  };
  installInitialActions();
  const grants = new Map<string, GrantHandler>([
    [
      'client_credentials',
      clientCredentialsGrant({ tokenLifetimeSeconds: opts.tokenLifetimeSeconds ?? 86_400 }),
    ],
    ['authorization_code', authorizationCodeGrant({ state: loginState, apis: applications })],
    ['refresh_token', refreshTokenGrant({ state: loginState, flow, apis: applications })],
  ]);
  let url = '';

  const app = Fastify({ logger: false });
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => {
      done(
        null,
        Object.fromEntries(new URLSearchParams(typeof body === 'string' ? body : body.toString('utf8'))),
      );
    },
  );

  installFaultHook(app, {
    faults,
    counter,
    respond: (request, reply, fault) => respondWithFault(request, reply, fault, limiter),
  });

  // Errors outside /api/v2 come from the Authentication API, whose errors are OAuth-shaped.
  app.setErrorHandler((error: unknown, _request, reply) => {
    const status =
      typeof error === 'object' &&
      error !== null &&
      'statusCode' in error &&
      typeof error.statusCode === 'number'
        ? error.statusCode
        : 500;
    if (status >= 400 && status < 500)
      return reply.code(400).send({ error: 'invalid_request', error_description: 'Invalid request body' });
    return reply.code(500).send({ error: 'server_error', error_description: 'Internal Server Error' });
  });

  registerCors(app, { store, paths: ['/oauth/token', '/userinfo'] });
  registerOAuthRoutes(app, { store, grants, baseUrl: () => url });
  registerUserinfoRoute(app, { store, state: loginState });
  registerLoginRoutes(app, { store, state: loginState, flow });
  registerManagementRoutes(app, {
    store,
    limiter,
    extraRoutes: [
      (api) => registerActionRoutes(api, { actions }),
      (api) => registerApplicationRoutes(api, { applications, tenantName: domain.split('.')[0] ?? domain }),
    ],
  });

  const reset = (): void => {
    store.reset();
    applications.reset();
    counter.reset();
    faults.clear();
    loginState.clear();
    flow.clear();
    actions.clear();
    installInitialActions();
  };
  const state = (): Auth0EmulatorState => ({
    ...store.snapshot(),
    resourceServers: [...applications.resourceServers.values()].map((rs) => structuredClone(rs)),
    counts: counter.snapshot(),
    faults: faults.list(),
    rateLimit: limiter.peek(),
    actions: actions.snapshot(),
    flows: flow.history(),
  });
  registerControlRoutes(app, { faults, state, reset });
  app.post(`${CONTROL_PREFIX}rate-limit`, async (request, reply) => {
    const body = (request.body ?? {}) as { perSecond?: unknown; burst?: unknown };
    const perSecond = typeof body.perSecond === 'number' ? body.perSecond : undefined;
    const burst = typeof body.burst === 'number' ? body.burst : undefined;
    try {
      limiter.configure(perSecond, burst);
    } catch (e) {
      return reply.code(400).send({ error: e instanceof Error ? e.message : 'invalid rate limit' });
    }
    return reply.code(204).send();
  });

  const host = opts.host ?? '127.0.0.1';
  await app.listen({ port: opts.port ?? 0, host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  url = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;

  const withRoles = (userId: string): (ApiUser & { roles: string[] }) | undefined => {
    const user = store.users.get(userId);
    return user ? { ...toApiUser(user), roles: store.rolesOf(userId).map((r) => r.name) } : undefined;
  };

  return {
    url,
    domain,
    store,
    issuer: store.issuer,
    spaClientId: DEFAULT_SPA_CLIENT_ID,
    installAction: (action) => ({ id: actions.install(action).id }),
    boundActions: () => actions.runnable('post-login'),
    createUser: (input) => toApiUser(store.createUser(input)),
    socialUser: (connection, profile) => toApiUser(store.socialUser(connection, profile)),
    getUser: withRoles,
    linkUsers: (primaryUserId, secondaryUserId) => {
      const bar = secondaryUserId.indexOf('|');
      return store.link(primaryUserId, {
        provider: secondaryUserId.slice(0, bar),
        user_id: secondaryUserId.slice(bar + 1),
      });
    },
    usersByEmail: (email) => store.usersByEmail(email).map((u) => toApiUser(u)),
    createRole: (name, description) => store.createRole(name, description),
    deleteRole: (roleId) => store.deleteRole(roleId),
    assignRoles: (userId, roleIds) => store.assignRoles(userId, roleIds),
    createResourceServer: (input) => structuredClone(applications.createResourceServer(input)),
    addRolePermissions: (roleId, permissions) => applications.addRolePermissions(roleId, permissions),
    registerClient: (client) => store.registerClient(client),
    injectFault: (rule) => faults.add(rule),
    clearFaults: () => faults.clear(),
    setRateLimit: (perSecond, burst) => limiter.configure(perSecond, burst),
    reset,
    state,
    get counts() {
      return counter.snapshot();
    },
    close: () => app.close(),
  };
}

// A fault answers in the shape of the API it hits, with the headers Auth0 would send: the
// rate-limit headers on Management responses (a 429 resets `retryAfterSeconds` from now).
function respondWithFault(
  request: FastifyRequest,
  reply: FastifyReply,
  fault: FaultRule,
  limiter: ManagementRateLimiter,
): FastifyReply {
  if (fault.retryAfterSeconds !== undefined)
    void reply.header('retry-after', String(fault.retryAfterSeconds));
  if (request.url.startsWith('/api/v2/')) {
    const state = limiter.peek();
    const reset = Math.ceil(Date.now() / 1000) + (fault.retryAfterSeconds ?? 1);
    setRateLimitHeaders(reply, fault.status === 429 ? { ...state, remaining: 0, reset } : state);
    const body =
      fault.status === 429
        ? GLOBAL_LIMIT_BODY
        : auth0ErrorBody(
            fault.status,
            fault.status >= 500 ? 'Internal error, please retry later' : 'Injected fault',
          );
    return reply.code(fault.status).send(body);
  }
  const body =
    fault.status === 429
      ? { error: 'too_many_requests', error_description: 'Global limit has been reached' }
      : {
          error: fault.status >= 500 ? 'server_error' : 'invalid_request',
          error_description: 'Injected fault',
        };
  return reply.code(fault.status).send(body);
}
