/**
 * The funnel backend's bearer token: OAuth2 client credentials against the tenant's token
 * endpoint, cached until shortly before it expires so each sign-up does not cost a token request.
 */

/** A `funnelToken` for `startDemoApp`: a cached client-credentials access token. */
export function clientCredentialsToken(opts: {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  audience: string;
  scope?: string;
}): () => Promise<string> {
  let cached: { token: string; renewAt: number } | undefined;
  return async () => {
    if (cached && Date.now() < cached.renewAt) return cached.token;
    const response = await fetch(opts.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: opts.clientId,
        client_secret: opts.clientSecret,
        audience: opts.audience,
        scope: opts.scope ?? 'invites:create',
      }),
      redirect: 'error',
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await response.json().catch(() => ({}))) as {
      access_token?: unknown;
      expires_in?: unknown;
      error?: unknown;
    };
    if (!response.ok || typeof body.access_token !== 'string')
      throw new Error(
        `client credentials refused (${response.status} ${typeof body.error === 'string' ? body.error : ''})`,
      );
    const lifetime = typeof body.expires_in === 'number' ? body.expires_in : 300;
    // Renew a minute early (or halfway through a short lifetime) so a token never expires in flight.
    cached = { token: body.access_token, renewAt: Date.now() + Math.max(lifetime - 60, lifetime / 2) * 1000 };
    return cached.token;
  };
}
