// The interactive side of the emulated tenant, as a browser sees Auth0: `/authorize` (code flow
// with PKCE S256 only), the Universal Login pages (log in, sign up, social buttons), emulated
// Google and Facebook account choosers, the `auth0` session cookie behind silent SSO, and
// `/v2/logout`. Every completed login runs the post-login flow before a code is issued, silent
// SSO included, as Auth0 does.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthMethod, LoginSession, LoginState, LoginTransaction } from './login-state';
import {
  errorPage,
  identityProviderPage,
  loggedOutPage,
  LOGIN_ERRORS,
  loginPage,
  pickLoginLocale,
  signupPage,
} from './pages';
import type { LoginLocale } from './pages';
import type { PostLoginFlow } from './post-login-flow';
import { Auth0ApiError, DEFAULT_CONNECTION, grantTypesOf, ownIdentity, SOCIAL_CONNECTIONS } from './store';
import type { Auth0ClientRegistration, Auth0Store, IdentityRef, SocialConnection, StoredUser } from './store';
import { verifyToken } from './tokens';
import { adjustScope } from './user-tokens';

/** Name of the emulator's session cookie (Auth0's is also `auth0`). */
export const SESSION_COOKIE = 'auth0';

const SESSION_MAX_AGE_SECONDS = 3 * 24 * 60 * 60;
const MIN_PASSWORD_LENGTH = 8;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function firstValues(input: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof input !== 'object' || input === null) return out;
  for (const [key, value] of Object.entries(input)) {
    const first: unknown = Array.isArray(value) ? value[0] : value;
    if (typeof first === 'string') out[key] = first;
  }
  return out;
}

function cookies(request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = decodeURIComponent(part.slice(eq + 1).trim());
  }
  return out;
}

function html(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('x-frame-options', 'DENY')
    .send(body);
}

function redirectTo(reply: FastifyReply, location: string): FastifyReply {
  return reply.code(302).header('cache-control', 'no-store').header('location', location).send();
}

function withParams(base: string, params: Record<string, string | undefined>): string {
  const url = new URL(base);
  for (const [key, value] of Object.entries(params))
    if (value !== undefined) url.searchParams.set(key, value);
  return url.href;
}

/**
 * The OAuth error answer once the application is known: back to its callback with `error`, the
 * description and the request's `state`.
 */
function redirectWithError(
  reply: FastifyReply,
  to: { redirectUri: string; state?: string | undefined },
  error: string,
  description: string,
): FastifyReply {
  return redirectTo(reply, withParams(to.redirectUri, { error, error_description: description, state: to.state }));
}

function isSocial(value: string | undefined): value is SocialConnection {
  return (SOCIAL_CONNECTIONS as readonly string[]).includes(value ?? '');
}

/** Registers `/authorize`, `/u/login`, `/u/signup`, `/emulated-idp/*` and `/v2/logout`. */
export function registerLoginRoutes(
  app: FastifyInstance,
  opts: { store: Auth0Store; state: LoginState; flow: PostLoginFlow },
): void {
  const { store, state, flow } = opts;

  const sessionOf = (request: FastifyRequest): LoginSession | undefined => {
    const session = state.session(cookies(request)[SESSION_COOKIE]);
    return session && store.users.has(session.userId) ? session : undefined;
  };

  const clientName = (tx: LoginTransaction): string => store.clients.get(tx.clientId)?.name ?? tx.clientId;

  const expired = (reply: FastifyReply): FastifyReply =>
    html(
      reply,
      400,
      errorPage(
        'Invalid state',
        'This login has expired or was already used. Start again from the application.',
      ),
    );

  // Runs the post-login Actions, then answers like Auth0: an error redirect on `access.deny`, an
  // error page when an Action failed or ran out of time, otherwise a code for the application.
  // `user` is the user the identity belongs to: itself, or the user it was linked into.
  const complete = async (
    request: FastifyRequest,
    reply: FastifyReply,
    tx: LoginTransaction,
    user: StoredUser,
    existing: LoginSession | undefined,
    method: AuthMethod['name'] | undefined,
    identity: IdentityRef = existing?.identity ?? ownIdentity(user),
  ): Promise<FastifyReply> => {
    state.closeTransaction(tx.id);
    const client = store.clients.get(tx.clientId);
    if (!client) return expired(reply);
    if (user.blocked) {
      return redirectWithError(reply, tx, 'unauthorized', 'user is blocked');
    }
    store.recordLogin(user, request.ip);
    const methods = existing?.methods ?? [{ name: method ?? 'pwd', timestamp: new Date().toISOString() }];
    const session = existing ?? state.openSession(user.user_id, methods, identity);
    const result = await flow.run({
      user,
      identity,
      client,
      request,
      query: tx.query,
      body: {},
      protocol: 'oidc-basic-profile',
      scope: tx.scope,
      ...(tx.audience === undefined ? {} : { audience: tx.audience }),
      sessionId: session.id,
      transactionId: tx.id,
      redirectUri: tx.redirectUri,
      ...(tx.state === undefined ? {} : { state: tx.state }),
      methods,
    });
    if (result.outcome !== 'allowed' && !existing) state.closeSession(session.id);
    // A thrown Action (or one out of time) ends the login like `api.access.deny`: the application
    // gets `access_denied` at its callback, with the error's message as the description.
    if (result.outcome === 'failed') {
      return redirectWithError(
        reply,
        tx,
        result.error ?? 'access_denied',
        result.failureDescription ?? result.failure ?? 'A post-login Action failed.',
      );
    }
    if (result.outcome === 'denied') {
      return redirectWithError(reply, tx, 'access_denied', result.denyReason ?? '');
    }
    // After `api.authentication.setPrimaryUser` the login, its session and its tokens belong to
    // the primary user, which counts the login.
    const subject = result.subject ?? user;
    if (subject.blocked) {
      if (!existing) state.closeSession(session.id);
      return redirectWithError(reply, tx, 'unauthorized', 'user is blocked');
    }
    if (subject.user_id !== user.user_id) {
      store.recordLogin(subject, request.ip);
      state.rebindSession(session.id, subject.user_id);
    }
    const code = state.issueCode({
      clientId: tx.clientId,
      userId: subject.user_id,
      sessionId: session.id,
      scope: adjustScope(tx.scope, result.addedScopes, result.removedScopes),
      ...(tx.audience === undefined ? {} : { audience: tx.audience }),
      ...(tx.nonce === undefined ? {} : { nonce: tx.nonce }),
      authTime: session.authTime,
      idTokenClaims: result.idTokenClaims,
      accessTokenClaims: result.accessTokenClaims,
      redirectUri: tx.redirectUri,
      codeChallenge: tx.codeChallenge,
    });
    void reply.header(
      'set-cookie',
      `${SESSION_COOKIE}=${encodeURIComponent(session.id)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${SESSION_MAX_AGE_SECONDS}`,
    );
    return redirectTo(reply, withParams(tx.redirectUri, { code, state: tx.state }));
  };

  app.get('/authorize', async (request, reply) => {
    const query = firstValues(request.query);
    const client = query.client_id ? store.clients.get(query.client_id) : undefined;
    if (!client)
      return html(reply, 400, errorPage('Unknown client', `Unknown client: ${query.client_id ?? '(none)'}`));
    if (!grantTypesOf(client).includes('authorization_code'))
      return html(
        reply,
        400,
        errorPage('Unauthorized client', `The client ${client.clientId} cannot log people in.`),
      );
    const redirectUri = query.redirect_uri;
    if (!redirectUri || !(client.callbacks ?? []).includes(redirectUri)) {
      return html(
        reply,
        400,
        errorPage(
          'Callback URL mismatch',
          `${redirectUri ?? '(no redirect_uri)'} is not in the list of allowed callback URLs of ${client.clientId}.`,
        ),
      );
    }
    // From here on the application is known and trusted with errors, as in OAuth.
    const fail = (error: string, description: string): FastifyReply =>
      redirectWithError(reply, { redirectUri, state: query.state }, error, description);
    if (query.response_type !== 'code')
      return fail(
        'unsupported_response_type',
        `Unsupported response type: ${query.response_type ?? '(none)'}`,
      );
    if (query.response_mode !== undefined && query.response_mode !== 'query')
      return fail(
        'invalid_request',
        `The emulator supports response_mode=query only, not ${query.response_mode}`,
      );
    if (!query.code_challenge) return fail('invalid_request', 'Parameter code_challenge is required (PKCE)');
    if (query.code_challenge_method !== 'S256')
      return fail('invalid_request', 'Parameter code_challenge_method must be S256');

    const tx = state.openTransaction({
      clientId: client.clientId,
      query,
      redirectUri,
      scope: query.scope ?? 'openid',
      ...(query.state === undefined ? {} : { state: query.state }),
      ...(query.nonce === undefined ? {} : { nonce: query.nonce }),
      ...(query.audience === undefined ? {} : { audience: query.audience }),
      codeChallenge: query.code_challenge,
    });
    const prompts = (query.prompt ?? '').split(' ');
    const session = prompts.includes('login') ? undefined : sessionOf(request);
    if (session) {
      const user = store.users.get(session.userId);
      if (user) return complete(request, reply, tx, user, session, undefined);
    }
    if (prompts.includes('none')) {
      state.closeTransaction(tx.id);
      return fail('login_required', 'Login required');
    }
    const page = query.screen_hint === 'signup' ? '/u/signup' : '/u/login';
    return redirectTo(reply, `${page}?state=${encodeURIComponent(tx.id)}`);
  });

  const localeOf = (request: FastifyRequest, tx: LoginTransaction): LoginLocale =>
    pickLoginLocale(tx.query.ui_locales, request.headers['accept-language']);

  const pageInput = (
    request: FastifyRequest,
    tx: LoginTransaction,
    extra: { email?: string; error?: string } = {},
  ) => ({
    state: tx.id,
    clientName: clientName(tx),
    locale: localeOf(request, tx),
    connections: SOCIAL_CONNECTIONS,
    ...((extra.email ?? tx.query.login_hint) ? { email: extra.email ?? tx.query.login_hint } : {}),
    ...(extra.error === undefined ? {} : { error: extra.error }),
  });

  app.get('/u/login', async (request, reply) => {
    const tx = state.transaction(firstValues(request.query).state);
    if (!tx) return expired(reply);
    return html(reply, 200, loginPage(pageInput(request, tx)));
  });

  app.get('/u/signup', async (request, reply) => {
    const tx = state.transaction(firstValues(request.query).state);
    if (!tx) return expired(reply);
    return html(reply, 200, signupPage(pageInput(request, tx)));
  });

  app.post('/u/login', async (request, reply) => {
    const form = firstValues(request.body);
    const tx = state.transaction(form.state);
    if (!tx) return expired(reply);
    if (form.connection !== undefined) {
      if (!isSocial(form.connection))
        return html(
          reply,
          400,
          loginPage(pageInput(request, tx, { error: `Unknown connection ${form.connection}` })),
        );
      return redirectTo(
        reply,
        `/emulated-idp/${form.connection}/authorize?state=${encodeURIComponent(tx.id)}`,
      );
    }
    const email = (form.username ?? '').trim().toLowerCase();
    // The database identity with this address, a user of its own or linked into another user: its
    // own password logs it in, as the user it belongs to.
    const found = store.findIdentity(DEFAULT_CONNECTION, email);
    const errors = LOGIN_ERRORS[localeOf(request, tx)];
    if (!found || !store.verifyPasswordHash(found.passwordHash, form.password ?? ''))
      return html(reply, 400, loginPage(pageInput(request, tx, { email, error: errors.wrongCredentials })));
    if (found.user.blocked)
      return html(reply, 401, loginPage(pageInput(request, tx, { email, error: errors.blocked })));
    return complete(request, reply, tx, found.user, undefined, 'pwd', found.identity);
  });

  app.post('/u/signup', async (request, reply) => {
    const form = firstValues(request.body);
    const tx = state.transaction(form.state);
    if (!tx) return expired(reply);
    const email = (form.email ?? '').trim().toLowerCase();
    const password = form.password ?? '';
    const errors = LOGIN_ERRORS[localeOf(request, tx)];
    const again = (error: string) => html(reply, 400, signupPage(pageInput(request, tx, { email, error })));
    if (!EMAIL.test(email)) return again(errors.invalidEmail);
    if (password.length < MIN_PASSWORD_LENGTH) return again(errors.weakPassword(MIN_PASSWORD_LENGTH));
    let user: StoredUser;
    try {
      // Auth0 creates database users unverified and sends a verification email.
      user = store.createUser({ email, password, connection: DEFAULT_CONNECTION, email_verified: false });
    } catch (error) {
      if (error instanceof Auth0ApiError && error.statusCode === 409) return again(errors.userExists);
      throw error;
    }
    return complete(request, reply, tx, user, undefined, 'pwd');
  });

  app.get<{ Params: { connection: string } }>(
    '/emulated-idp/:connection/authorize',
    async (request, reply) => {
      const { connection } = request.params;
      const tx = state.transaction(firstValues(request.query).state);
      if (!isSocial(connection)) return html(reply, 404, errorPage('Unknown provider', connection));
      if (!tx) return expired(reply);
      const accounts = [...store.users.values()].flatMap((u) => [
        ...(u.connection === connection ? [{ email: u.email, name: u.name }] : []),
        ...u.linked
          .filter((i) => i.connection === connection)
          .map((i) => ({ email: i.profileData.email, name: i.profileData.name })),
      ]);
      return html(reply, 200, identityProviderPage({ connection, state: tx.id, accounts }));
    },
  );

  app.post<{ Params: { connection: string } }>(
    '/emulated-idp/:connection/authorize',
    async (request, reply) => {
      const { connection } = request.params;
      const form = firstValues(request.body);
      const tx = state.transaction(form.state);
      if (!isSocial(connection)) return html(reply, 404, errorPage('Unknown provider', connection));
      if (!tx) return expired(reply);
      const email = (form.email ?? '').trim().toLowerCase();
      if (!EMAIL.test(email))
        return html(
          reply,
          400,
          identityProviderPage({ connection, state: tx.id, accounts: [], error: 'Enter the account email.' }),
        );
      const found = store.socialLogin(connection, { email, ...(form.name ? { name: form.name } : {}) });
      return complete(request, reply, tx, found.user, undefined, 'federated', found.identity);
    },
  );

  // Allowed Logout URLs are compared without the query string, so an application may come back
  // to a page with parameters of its own.
  const allowedLogout = (clients: (Auth0ClientRegistration | undefined)[], target: string): boolean => {
    const withoutQuery = target.split('?')[0] ?? target;
    return clients.some((c) => (c?.allowedLogoutUrls ?? []).some((u) => u === target || u === withoutQuery));
  };
  const invalidLogoutUrl = (reply: FastifyReply, name: string, target: string): FastifyReply =>
    html(
      reply,
      400,
      errorPage(
        'Invalid logout URL',
        `The "${name}" parameter "${target}" is not defined as a valid URL in "Allowed Logout URLs".`,
      ),
    );
  const endSession = (request: FastifyRequest, reply: FastifyReply): void => {
    const session = cookies(request)[SESSION_COOKIE];
    if (session) state.closeSession(session);
    void reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`);
  };

  app.get('/v2/logout', async (request, reply) => {
    const query = firstValues(request.query);
    const returnTo = query.returnTo;
    const clients = query.client_id ? [store.clients.get(query.client_id)] : [...store.clients.values()];
    if (returnTo !== undefined && !allowedLogout(clients, returnTo))
      return invalidLogoutUrl(reply, 'returnTo', returnTo);
    endSession(request, reply);
    if (returnTo === undefined) return html(reply, 200, loggedOutPage());
    return redirectTo(reply, returnTo);
  });

  // OpenID Connect RP-Initiated Logout: the application is named by `client_id` or by the
  // audience of `id_token_hint` (an ID token this tenant issued, possibly expired), and
  // `post_logout_redirect_uri` must be one of its Allowed Logout URLs; `state` comes back with it.
  app.get('/oidc/logout', async (request, reply) => {
    const query = firstValues(request.query);
    let hinted: string | undefined;
    if (query.id_token_hint !== undefined) {
      try {
        const payload = await verifyToken(store.key, query.id_token_hint, {
          issuer: store.issuer,
          ignoreExpiry: true,
        });
        hinted = typeof payload.aud === 'string' ? payload.aud : undefined;
      } catch {
        return html(reply, 400, errorPage('Invalid request', 'The id_token_hint is not valid.'));
      }
      if (query.client_id !== undefined && hinted !== query.client_id)
        return html(
          reply,
          400,
          errorPage('Invalid request', 'The client_id does not match the audience of the id_token_hint.'),
        );
    }
    const clientId = query.client_id ?? hinted;
    const target = query.post_logout_redirect_uri;
    if (target !== undefined) {
      if (clientId === undefined)
        return html(
          reply,
          400,
          errorPage(
            'Invalid request',
            'A post_logout_redirect_uri needs a client_id or an id_token_hint to name the application.',
          ),
        );
      if (!allowedLogout([store.clients.get(clientId)], target))
        return invalidLogoutUrl(reply, 'post_logout_redirect_uri', target);
    }
    endSession(request, reply);
    if (target === undefined) return html(reply, 200, loggedOutPage());
    return redirectTo(reply, withParams(target, { state: query.state }));
  });
}
