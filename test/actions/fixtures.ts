// Stand-ins for what surrounds the post-login Action: a small HTTP server playing our API's
// `POST /v1/redemptions`, an `event` shaped like the one Auth0 documents for post-login, and an
// `api` that records what the Action asked for.
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request the stub API received. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** How the stub answers: a status and JSON body, or never. */
export type StubAnswer = { status: number; body?: unknown; raw?: string } | 'hang';

/** A running stub of our redemption endpoint. */
export interface StubApi {
  url: string;
  requests: ReceivedRequest[];
  answer: (request: ReceivedRequest) => StubAnswer;
  close(): Promise<void>;
}

/** Starts the stub on a free port; it answers 404 until `answer` is set. */
export async function startStubApi(): Promise<StubApi> {
  const stub: StubApi = {
    url: '',
    requests: [],
    answer: () => ({ status: 404, body: { error: { code: 'not_found', message: 'no answer configured' } } }),
    close: () => Promise.resolve(),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // Kept as text: the test asserts on it.
      }
      const received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
      stub.requests.push(received);
      const answer = stub.answer(received);
      if (answer === 'hang') return;
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(answer.raw ?? JSON.stringify(answer.body ?? {}));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  stub.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return stub;
}

/** A 32+ character secret shared by the Action and the stub. */
export const ACTION_SECRET = 'test-action-secret-0123456789-abcdefghij';

/** A post-login event as Auth0 documents it, for an email/password login carrying `query`. */
export function postLoginEvent(
  opts: {
    query?: Record<string, string>;
    secrets?: Record<string, string>;
    user?: Partial<{ user_id: string; email: string; email_verified: boolean }>;
    connection?: { name: string; strategy: string };
    protocol?: string;
  } = {},
): Record<string, unknown> {
  const now = new Date().toISOString();
  const connection = opts.connection ?? { name: 'Username-Password-Authentication', strategy: 'auth0' };
  const userId = opts.user?.user_id ?? 'auth0|65f0c0ffee00000000000001';
  return {
    authentication: { methods: [{ name: 'pwd', timestamp: now }] },
    authorization: { roles: [] },
    client: { client_id: 'inviteflow-spa', name: 'inviteflow customer space', metadata: {} },
    connection: { id: 'con_TestConnection01', ...connection, metadata: {} },
    request: {
      ip: '203.0.113.7',
      method: 'GET',
      hostname: 'inviteflow-dev.eu.auth0.com',
      user_agent: 'Mozilla/5.0',
      language: 'en',
      query: opts.query ?? {},
      body: {},
      geoip: { countryCode: 'FR', countryName: 'France', timeZone: 'Europe/Paris' },
    },
    stats: { logins_count: 1 },
    tenant: { id: 'inviteflow-dev' },
    transaction: {
      acr_values: [],
      locale: 'en',
      protocol: opts.protocol ?? 'oidc-basic-profile',
      redirect_uri: 'http://localhost:3000/callback',
      requested_scopes: ['openid', 'profile', 'email'],
      response_type: ['code'],
      ui_locales: [],
    },
    user: {
      user_id: userId,
      email: opts.user?.email ?? 'ada@example.com',
      email_verified: opts.user?.email_verified ?? false,
      name: 'ada@example.com',
      nickname: 'ada',
      picture: 'https://s.gravatar.com/avatar/x.png',
      created_at: now,
      updated_at: now,
      identities: [
        {
          connection: connection.name,
          provider: connection.strategy,
          user_id: userId.slice(userId.indexOf('|') + 1),
          isSocial: connection.strategy !== 'auth0',
        },
      ],
      app_metadata: {},
      user_metadata: {},
      multifactor: [],
    },
    secrets: opts.secrets ?? {},
  };
}

/** What the Action asked of the `api` object. */
export interface RecordedApi {
  idToken: Record<string, unknown>;
  accessToken: Record<string, unknown>;
  denied?: string;
  appMetadata: Record<string, unknown>;
  userMetadata: Record<string, unknown>;
}

/** An `api` object with Auth0's post-login methods (each returns `api`, as Auth0's do) that records calls. */
export function recordingApi(): { api: Record<string, unknown>; calls: RecordedApi } {
  const calls: RecordedApi = { idToken: {}, accessToken: {}, appMetadata: {}, userMetadata: {} };
  const api: Record<string, unknown> = {};
  Object.assign(api, {
    access: {
      deny: (reason: string) => {
        calls.denied = reason;
        return api;
      },
    },
    idToken: {
      setCustomClaim: (name: string, value: unknown) => {
        calls.idToken[name] = value;
        return api;
      },
    },
    accessToken: {
      setCustomClaim: (name: string, value: unknown) => {
        calls.accessToken[name] = value;
        return api;
      },
      addScope: () => api,
      removeScope: () => api,
    },
    user: {
      setAppMetadata: (name: string, value: unknown) => {
        calls.appMetadata[name] = value;
        return api;
      },
      setUserMetadata: (name: string, value: unknown) => {
        calls.userMetadata[name] = value;
        return api;
      },
    },
  });
  return { api, calls };
}
