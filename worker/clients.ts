/** Builds the real clients the activities need from the worker's configuration. */
import type { WorkerConfig } from '../lib/config';
import { createManagementClient } from '../lib/auth0';
import { createHubSpotClient } from '../lib/hubspot';
import { createMailer } from '../lib/mailer';
import { createLinkSigner } from '../lib/token';
import type { ActivityDeps } from '../activities';

/** The activity dependencies plus what must be closed on shutdown. */
export function buildActivityDeps(cfg: WorkerConfig): { deps: ActivityDeps; close(): Promise<void> } {
  const mailer = createMailer({ smtpUrl: cfg.SMTP_URL });
  const deps: ActivityDeps = {
    email: {
      mailer,
      linkSigner: createLinkSigner({
        signingKey: cfg.LINK_SIGNING_KEY,
        issuer: cfg.PUBLIC_BASE_URL,
        audience: cfg.LINK_AUDIENCE,
      }),
      publicBaseUrl: cfg.PUBLIC_BASE_URL,
      from: cfg.MAIL_FROM,
      productName: cfg.PRODUCT_NAME,
    },
    auth0: {
      management: createManagementClient({
        domain: cfg.AUTH0_DOMAIN,
        clientId: cfg.AUTH0_CLIENT_ID,
        clientSecret: cfg.AUTH0_CLIENT_SECRET,
        endpoint: cfg.AUTH0_MANAGEMENT_ENDPOINT,
      }),
    },
    hubspot: {
      hubspot: createHubSpotClient({ accessToken: cfg.HUBSPOT_ACCESS_TOKEN, basePath: cfg.HUBSPOT_BASE_PATH }),
    },
    webhook: { url: cfg.FUNNEL_WEBHOOK_URL, secret: cfg.FUNNEL_WEBHOOK_SECRET },
  };
  return {
    deps,
    close: async () => {
      await mailer.close();
    },
  };
}
