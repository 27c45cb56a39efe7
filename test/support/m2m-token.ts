/**
 * An access token of the tenant's machine-to-machine application (`inviteflow-m2m`), the way the
 * funnel backend gets one: OAuth2 `client_credentials` at the (emulated) Auth0 `/oauth/token`.
 */
export async function m2mToken(auth0Url: string, audience: string, scope?: string): Promise<string> {
  const res = await fetch(`${auth0Url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      grant_type: 'client_credentials',
      client_id: 'inviteflow-m2m',
      client_secret: 'inviteflow-m2m-secret',
      audience,
      ...(scope !== undefined ? { scope } : {}),
    }),
  });
  if (res.status !== 200) throw new Error(`/oauth/token answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}
