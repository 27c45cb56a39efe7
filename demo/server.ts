/**
 * The demo's web server: the customer space (a single-page app that signs in with Auth0's SPA
 * SDK and shows what the invite granted) and the demo funnel page (which,
 * like a real funnel backend, starts invites server-side with a token the browser never sees).
 * It stands in for the customer's own application, so it shares no code with the product.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadBrowserModules } from './assets';
import type { SpaConfig } from './browser/app';
import { acceptedLanguages, chooseLocale } from '../lib/locale';
import type { SupportedLocale } from '../lib/locale';
import { checkSignup, requestInvite } from './funnel';
import {
  contentSecurityPolicy,
  FAVICON_SVG,
  funnelFormPage,
  funnelSentPage,
  messagePage,
  spaPage,
} from './pages';

/** How to start the demo; URLs are where the browser (or this server, for `apiUrl`) reaches each service. */
export interface DemoAppOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /**
   * Where the browser reaches the tenant: `https://<domain>` for Auth0, the emulator's
   * `http://127.0.0.1:PORT` locally. The SDK calls its `/authorize`, `/oauth/token` and
   * `/v2/logout`; the CSP allows its origin for the token calls.
   */
  auth0Url: string;
  /** The `iss` of the tenant's tokens (`https://<domain>/`). */
  issuer: string;
  /** The product's name in the pages' title and header; default `Acme`. */
  appName?: string;
  /** The customer space's (public) client id. */
  clientId: string;
  /** API audience to request an access token for. */
  audience?: string;
  /** Prefix of our custom claims; default `https://inviteflow.dev/`. */
  claimNamespace?: string;
  /** The inviteflow API base URL, called server-side by the funnel. */
  apiUrl: string;
  /** A client-credentials bearer token with `invites:create`, obtained server-side. */
  funnelToken: () => Promise<string>;
}

/** A running demo app. */
export interface DemoApp {
  /** `http://HOST:PORT`. */
  url: string;
  close(): Promise<void>;
}

/** The claim namespace the post-login Action uses by default. */
export const DEFAULT_CLAIM_NAMESPACE = 'https://inviteflow.dev/';

// A funnel form is two short fields; anything much larger is not one.
const MAX_FORM_BYTES = 16 * 1024;

const SPA_PATHS = new Set(['/', '/login', '/callback']);

function absoluteUrl(name: string, value: string): string {
  try {
    return new URL(value).href;
  } catch {
    throw new Error(`startDemoApp: ${name} must be an absolute URL, got ${JSON.stringify(value)}`);
  }
}

class BodyTooLarge extends Error {}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** Starts the demo customer space and funnel page. */
export async function startDemoApp(opts: DemoAppOptions): Promise<DemoApp> {
  const config: SpaConfig = {
    // The SDK appends paths to it, so no trailing slash.
    domain: absoluteUrl('auth0Url', opts.auth0Url).replace(/\/+$/, ''),
    issuer: opts.issuer,
    clientId: opts.clientId,
    ...(opts.audience ? { audience: opts.audience } : {}),
    claimNamespace: opts.claimNamespace ?? DEFAULT_CLAIM_NAMESPACE,
    appName: opts.appName ?? 'Acme',
  };
  const apiUrl = absoluteUrl('apiUrl', opts.apiUrl);
  const modules = await loadBrowserModules();
  const spaHtml = spaPage(config);
  const securityHeaders = {
    'content-security-policy': contentSecurityPolicy(config.domain),
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    // `/login` carries the invite token in its URL; no request may repeat it in a Referer.
    'referrer-policy': 'no-referrer',
  };

  function send(
    res: ServerResponse,
    status: number,
    type: string,
    body: string,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(status, {
      ...securityHeaders,
      'content-type': type,
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      ...headers,
    });
    res.end(body);
  }
  const html = (res: ServerResponse, status: number, body: string, headers?: Record<string, string>) =>
    send(res, status, 'text/html; charset=utf-8', body, headers);

  /** The funnel speaks the browser's language; the invite it starts speaks it too. */
  const funnelLocale = (req: IncomingMessage): SupportedLocale => chooseLocale(acceptedLanguages(req.headers['accept-language']));

  async function funnel(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const locale = funnelLocale(req);
    if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')) {
      return html(res, 415, funnelFormPage(config.appName, locale, {}, { code: 'unsupported_media_type', failure: 'form' }));
    }
    let form: URLSearchParams;
    try {
      form = await readForm(req);
    } catch (err) {
      if (!(err instanceof BodyTooLarge)) throw err;
      return html(res, 413, funnelFormPage(config.appName, locale, {}, { code: 'payload_too_large', failure: 'form' }), { connection: 'close' });
    }
    const email = (form.get('email') ?? '').trim();
    const name = (form.get('name') ?? '').trim();
    const values = { email, name };
    const fields = checkSignup(values);
    if (Object.keys(fields).length > 0) {
      return html(res, 400, funnelFormPage(config.appName, locale, values, { code: 'invalid_request', fields }));
    }
    let bearerToken: string;
    try {
      bearerToken = await opts.funnelToken();
    } catch {
      return html(res, 502, funnelFormPage(config.appName, locale, values, { code: 'token_unavailable', failure: 'unavailable' }));
    }
    const outcome = await requestInvite({
      apiUrl,
      bearerToken,
      signup: { email, ...(name ? { name } : {}), locale },
    });
    if (outcome.ok) {
      // Post/Redirect/Get would need somewhere to keep the outcome; a demo can show it directly.
      return html(res, 200, funnelSentPage({ ...outcome, appName: config.appName, locale }));
    }
    const { status, ...errors } = outcome;
    return html(res, status, funnelFormPage(config.appName, locale, values, errors));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://demo.invalid').pathname;
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const asset = path.startsWith('/assets/') ? modules.get(path.slice('/assets/'.length)) : undefined;
    const allowed =
      path === '/funnel'
        ? 'GET, HEAD, POST'
        : SPA_PATHS.has(path) || asset !== undefined || path === '/favicon.svg'
          ? 'GET, HEAD'
          : undefined;
    if (allowed === undefined)
      return html(res, 404, messagePage(config.appName, 'Not found', 'There is nothing at this address.'));
    if (method === 'POST' && path === '/funnel') return funnel(req, res);
    if (method !== 'GET')
      return html(res, 405, messagePage(config.appName, 'Method not allowed', `${path} answers ${allowed}.`), {
        allow: allowed,
      });
    if (SPA_PATHS.has(path)) return html(res, 200, spaHtml);
    if (asset !== undefined)
      return send(res, 200, 'text/javascript; charset=utf-8', asset, { 'cache-control': 'no-cache' });
    if (path === '/favicon.svg')
      return send(res, 200, 'image/svg+xml', FAVICON_SVG, { 'cache-control': 'max-age=86400' });
    return html(res, 200, funnelFormPage(config.appName, funnelLocale(req)));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      console.error('demo app:', err);
      if (res.headersSent) res.destroy();
      else html(res, 500, messagePage(config.appName, 'Something went wrong', 'Please try again in a moment.'));
    });
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Keep-alive connections would hold close() open until they time out.
        server.closeAllConnections();
      }),
  };
}
