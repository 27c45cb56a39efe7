/**
 * `token`: an access token for trying the API by hand, from the tenant's token endpoint with the
 * client-credentials grant (the local Auth0 emulator of `npm run dev` when nothing else is set).
 */
import { CliError, EXIT, jsonLine, line } from '../io';
import type { ExitCode } from '../io';
import { LOCAL_STACK, withLocalStack } from '../local-stack';
import { auth0Client } from '../session';
import type { Session } from '../session';

/** What the API checks; a token with all three tries every route of the funnel and operators. */
export const API_SCOPES = 'invites:create invites:read invites:write';
/** The API's default audience (`AUTH_AUDIENCE`). */
const DEFAULT_AUDIENCE = 'https://inviteflow/api';

/** Prints an access token (or, with `--json`, the token endpoint's answer without the token type). */
export async function tokenCommand(session: Session, opts: { scope?: string; audience?: string }): Promise<ExitCode> {
  const { io } = session;
  const env = withLocalStack(io.env ?? process.env, io.localStack);
  const { domain, clientId, clientSecret } = auth0Client(
    env,
    'to ask for a token (a machine-to-machine application with a grant on the API)',
    `Against the local stack, start \`npm run dev\`: it writes ${LOCAL_STACK}, which the CLI of that checkout reads by itself.`,
  );
  // The emulator serves the tenant's endpoints on its own URL; a real tenant on https://<domain>.
  const base = env.AUTH0_MANAGEMENT_ENDPOINT?.trim() || `https://${domain}`;
  const tokenUrl = new URL('/oauth/token', base).href;
  const scope = opts.scope ?? API_SCOPES;
  let response: Response;
  try {
    response = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: clientSecret,
        audience: opts.audience ?? env.AUTH_AUDIENCE ?? DEFAULT_AUDIENCE,
        scope,
      }),
      redirect: 'error',
      signal: AbortSignal.any([AbortSignal.timeout(10_000), ...(io.signal ? [io.signal] : [])]),
    });
  } catch (err) {
    throw new CliError(
      EXIT.unavailable,
      'auth0_unavailable',
      `Cannot reach the token endpoint ${tokenUrl}${env.AUTH0_MANAGEMENT_ENDPOINT ? ' (is `npm run dev` running?)' : ''}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const body = (await response.json().catch(() => ({}))) as {
    access_token?: unknown;
    expires_in?: unknown;
    scope?: unknown;
    error?: unknown;
    error_description?: unknown;
  };
  if (!response.ok || typeof body.access_token !== 'string') {
    const reason = [body.error, body.error_description].filter((v) => typeof v === 'string').join(': ');
    throw new CliError(EXIT.failed, 'token_refused', `The token endpoint answered ${response.status}${reason ? ` (${reason})` : ''}`);
  }
  // Auth0 drops the scopes the grant lacks: say so, rather than let a 403 surprise later.
  const granted = typeof body.scope === 'string' ? body.scope.split(' ').filter(Boolean) : [];
  const missing = scope.split(' ').filter((s) => s && !granted.includes(s));
  if (session.json) jsonLine(io.stdout, { access_token: body.access_token, expires_in: body.expires_in, scope: body.scope });
  else line(io.stdout, body.access_token);
  if (missing.length > 0 && !session.json) line(io.stderr, `inviteflow: the grant lacks ${missing.join(', ')}`);
  return EXIT.ok;
}
