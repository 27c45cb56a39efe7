/**
 * Runs the demo customer space and funnel page on their own (`npx tsx demo/main.ts`). The
 * defaults match the local stack (`npm run dev`): the Auth0 emulator on 127.0.0.1:4010 with its
 * `inviteflow-spa` and `inviteflow-m2m` applications, the API on localhost:3000.
 *
 *   DEMO_PORT (5173), DEMO_HOST (127.0.0.1)
 *   AUTH0_DOMAIN (inviteflow-dev.auth0.local): the tenant; tokens' `iss` is https://AUTH0_DOMAIN/
 *   DEMO_AUTH0_URL: where the browser reaches the tenant; default AUTH0_MANAGEMENT_ENDPOINT, then
 *     http://127.0.0.1:4010 for the local tenant, else https://AUTH0_DOMAIN
 *   DEMO_CLIENT_ID (inviteflow-spa), DEMO_AUDIENCE (none), CLAIM_NAMESPACE (https://inviteflow.dev/)
 *   APP_NAME (Acme): the product's name in the customer space's title
 *   DEMO_API_URL (http://localhost:3000)
 *   DEMO_FUNNEL_CLIENT_ID, DEMO_FUNNEL_CLIENT_SECRET: an M2M application with invites:create
 *     (default the emulator's inviteflow-m2m, and required for any other tenant)
 *   DEMO_FUNNEL_AUDIENCE (AUTH_AUDIENCE, then https://inviteflow/api)
 */
import { clientCredentialsToken } from './funnel-token';
import { DEFAULT_CLAIM_NAMESPACE, startDemoApp } from './server';

const LOCAL_DOMAIN = 'inviteflow-dev.auth0.local';

function env(name: string): string | undefined {
  const value = process.env[name]?.trim();
  return value ? value : undefined;
}

async function main(): Promise<void> {
  const domain = env('AUTH0_DOMAIN') ?? LOCAL_DOMAIN;
  const local = domain === LOCAL_DOMAIN;
  const auth0Url = (
    env('DEMO_AUTH0_URL') ??
    env('AUTH0_MANAGEMENT_ENDPOINT') ??
    (local ? 'http://127.0.0.1:4010' : `https://${domain}`)
  ).replace(/\/+$/, '');
  // Only the emulator's well-known development credentials have a default; a real tenant's must be given.
  const funnelClientId = env('DEMO_FUNNEL_CLIENT_ID') ?? (local ? 'inviteflow-m2m' : undefined);
  const funnelClientSecret =
    env('DEMO_FUNNEL_CLIENT_SECRET') ?? (local ? 'inviteflow-m2m-secret' : undefined);
  if (!funnelClientId || !funnelClientSecret) {
    throw new Error(
      'DEMO_FUNNEL_CLIENT_ID and DEMO_FUNNEL_CLIENT_SECRET are required for a tenant other than the local emulator',
    );
  }
  const tokenUrl = `${auth0Url}/oauth/token`;
  const audience = env('DEMO_AUDIENCE');
  const app = await startDemoApp({
    port: Number(env('DEMO_PORT') ?? 5173),
    host: env('DEMO_HOST') ?? '127.0.0.1',
    auth0Url,
    issuer: `https://${domain}/`,
    appName: env('APP_NAME') ?? 'Acme',
    clientId: env('DEMO_CLIENT_ID') ?? 'inviteflow-spa',
    ...(audience ? { audience } : {}),
    claimNamespace: env('CLAIM_NAMESPACE') ?? DEFAULT_CLAIM_NAMESPACE,
    apiUrl: env('DEMO_API_URL') ?? 'http://localhost:3000',
    funnelToken: clientCredentialsToken({
      tokenUrl,
      clientId: funnelClientId,
      clientSecret: funnelClientSecret,
      audience: env('DEMO_FUNNEL_AUDIENCE') ?? env('AUTH_AUDIENCE') ?? 'https://inviteflow/api',
    }),
  });
  console.log(`demo customer space ${app.url}/   funnel ${app.url}/funnel`);
  const stop = () => void app.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
