// Universal Login of the Auth0 emulator driven like a browser, shared by the emulator's login
// tests: plain `fetch`, manual redirects, a cookie jar and the HTML forms; `/authorize` with PKCE,
// the code exchange and the verified ID token.
import { createHash, randomBytes } from 'node:crypto';
import { jwtVerify } from 'jose';
import type { createLocalJWKSet } from 'jose';
import { expect } from 'vitest';
import type { Auth0Emulator } from '../../emulators/auth0';

export const CALLBACK = 'http://localhost:3000/callback';
export const APP_ORIGIN = 'http://localhost:3000';
export const API_AUDIENCE = 'https://api.inviteflow.local';

/** A browser: a cookie jar and manual redirects, so every hop can be seen. */
export class Browser {
  private readonly jar = new Map<string, string>();

  constructor(private readonly origin: string) {}

  hasCookie(name: string): boolean {
    return this.jar.has(name);
  }

  async request(path: string, form?: Record<string, string>): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.jar.size > 0) headers.cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(new URL(path, this.origin), {
      method: form ? 'POST' : 'GET',
      headers,
      redirect: 'manual',
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    for (const cookie of res.headers.getSetCookie()) {
      const [pair = '', ...attributes] = cookie.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      if (attributes.some((a) => a.trim().toLowerCase() === 'max-age=0')) this.jar.delete(name);
      else this.jar.set(name, pair.slice(eq + 1).trim());
    }
    return res;
  }

  /** Follows redirects inside the emulator; stops at a page or at the application's callback. */
  async go(
    path: string,
    form?: Record<string, string>,
  ): Promise<{ res: Response; html: string; callback?: URL }> {
    let current = new URL(path, this.origin);
    let res = await this.request(current.href, form);
    while (res.status >= 300 && res.status < 400) {
      const location = new URL(res.headers.get('location') ?? '', current);
      if (location.origin !== this.origin) return { res, html: '', callback: location };
      current = location;
      res = await this.request(current.href);
    }
    return { res, html: await res.text() };
  }
}

export function hidden(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!match?.[1]) throw new Error(`no hidden field ${name} in page`);
  return match[1];
}

export interface Started {
  browser: Browser;
  verifier: string;
  state: string;
  nonce: string;
  page: { res: Response; html: string; callback?: URL };
}

/** The running emulator and its published keys, read when a helper runs. */
export interface Tenant {
  emu: Auth0Emulator;
  jwks: ReturnType<typeof createLocalJWKSet>;
}

/** Logs in through the emulator's pages: `/authorize`, the login form, the code exchange. */
export function loginHelpers(tenant: () => Tenant) {
  async function authorize(browser: Browser, extra: Record<string, string> = {}): Promise<Started> {
    const { emu } = tenant();
    const verifier = randomBytes(32).toString('base64url');
    const state = randomBytes(8).toString('hex');
    const nonce = randomBytes(8).toString('hex');
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: emu.spaClientId,
      redirect_uri: CALLBACK,
      scope: 'openid profile email',
      state,
      nonce,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      ...extra,
    });
    const page = await browser.go(`/authorize?${query.toString()}`);
    return { browser, verifier, state, nonce, page };
  }

  async function exchange(code: string, verifier: string, redirectUri = CALLBACK): Promise<Response> {
    const { emu } = tenant();
    return fetch(`${emu.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: APP_ORIGIN },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: emu.spaClientId,
        code,
        code_verifier: verifier,
        redirect_uri: redirectUri,
      }).toString(),
    });
  }

  async function tokensFor(started: Started, callback: URL | undefined) {
    const { emu, jwks } = tenant();
    expect(callback?.origin + (callback?.pathname ?? '')).toBe(CALLBACK);
    expect(callback?.searchParams.get('state')).toBe(started.state);
    const code = callback?.searchParams.get('code');
    expect(code).toBeTruthy();
    const res = await exchange(code!, started.verifier);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      id_token: string;
      access_token: string;
      refresh_token?: string;
      scope: string;
    };
    const { payload: idToken } = await jwtVerify(body.id_token, jwks, {
      issuer: emu.issuer,
      audience: emu.spaClientId,
      algorithms: ['RS256'],
    });
    return { ...body, idToken };
  }

  async function signIn(started: Started, email: string, password: string) {
    return started.browser.go('/u/login', {
      state: hidden(started.page.html, 'state'),
      username: email,
      password,
    });
  }

  return { authorize, exchange, tokensFor, signIn };
}
