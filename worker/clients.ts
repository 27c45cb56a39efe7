/** Builds the real clients the activities need from the worker's configuration. */
import type { MetricMeter } from '@temporalio/common';
import type { WorkerConfig } from '../lib/config';
import { createManagementClient, isManagementApi } from '../services/auth0';
import { createHubSpotClient } from '../services/hubspot';
import { createMailer } from './mailer';
import { OutboundPacer, pacedFetch } from '../activities/outbound-pacer';
import type { PacingEvent } from '../activities/outbound-pacer';
import { createLinkSigner } from '../lib/token';
import type { ActivityDeps } from '../activities';

/** The pacers pacing this process's calls to Auth0 and HubSpot; absent when turned off. */
export interface OutboundPacers {
  auth0?: OutboundPacer;
  hubspot?: OutboundPacer;
}

/** The process's pacers from config (per process: several workers divide the service's limit). */
export function buildOutboundPacers(cfg: WorkerConfig, metricMeter?: MetricMeter): OutboundPacers {
  const counters = metricMeter && {
    refused: metricMeter.createCounter(
      'inviteflow_rate_limit_refusals',
      'calls',
      'Activity attempts refused locally by client-side pacing (retried later, nothing sent)',
    ),
    throttled: metricMeter.createCounter(
      'inviteflow_rate_limit_throttled',
      'responses',
      '429s received despite client-side pacing (another process spends the same limit)',
    ),
  };
  const onEvent = (service: string) => (event: PacingEvent) => counters?.[event].add(1, { service });
  const auth0 =
    cfg.AUTH0_MGMT_RATE_LIMIT > 0
      ? OutboundPacer.perSecond(cfg.AUTH0_MGMT_RATE_LIMIT, cfg.AUTH0_MGMT_RATE_BURST, {
          name: 'auth0',
          onEvent: onEvent('auth0'),
        })
      : undefined;
  const hubspot = cfg.HUBSPOT_RATE_LIMIT
    ? new OutboundPacer({
        name: 'hubspot',
        max: cfg.HUBSPOT_RATE_LIMIT.max,
        windowMs: cfg.HUBSPOT_RATE_LIMIT.intervalMs,
        onEvent: onEvent('hubspot'),
      })
    : undefined;
  return { auth0, hubspot };
}

/**
 * Paces the Management API requests of an Auth0 client with `pacer`, the one its activities
 * reserve their requests with (`createManagementClient`'s `pace`).
 */
export function paceManagementApi(pacer: OutboundPacer): (send: typeof fetch) => typeof fetch {
  return (send) => pacedFetch(send, pacer, { paces: isManagementApi });
}

/** The activity dependencies, the outbound pacers they use, and what must be closed on shutdown. */
export function buildActivityDeps(
  cfg: WorkerConfig,
  opts: { metricMeter?: MetricMeter } = {},
): { deps: ActivityDeps; pacers: OutboundPacers; close(): Promise<void> } {
  const mailer = createMailer({ smtpUrl: cfg.SMTP_URL });
  const pacers = buildOutboundPacers(cfg, opts.metricMeter);
  const deps: ActivityDeps = {
    email: {
      mailer,
      linkSigner: createLinkSigner({
        signingKey: cfg.LINK_SIGNING_KEY,
        issuer: cfg.PUBLIC_BASE_URL,
        audience: cfg.LINK_AUDIENCE,
      }),
      publicBaseUrl: cfg.PUBLIC_BASE_URL,
      from: { name: cfg.MAIL_FROM_NAME, address: cfg.MAIL_FROM },
      appName: cfg.APP_NAME,
    },
    auth0: {
      // The same pacer paces the client's requests and lets the activities reserve them.
      management: createManagementClient({
        domain: cfg.AUTH0_DOMAIN,
        clientId: cfg.AUTH0_CLIENT_ID,
        clientSecret: cfg.AUTH0_CLIENT_SECRET,
        endpoint: cfg.AUTH0_MANAGEMENT_ENDPOINT,
        ...(pacers.auth0 ? { pace: paceManagementApi(pacers.auth0) } : {}),
      }),
      pacer: pacers.auth0,
    },
    hubspot: {
      hubspot: createHubSpotClient({ accessToken: cfg.HUBSPOT_ACCESS_TOKEN, basePath: cfg.HUBSPOT_BASE_PATH }),
      pacer: pacers.hubspot,
    },
    webhook: { url: cfg.FUNNEL_WEBHOOK_URL, secret: cfg.FUNNEL_WEBHOOK_SECRET },
  };
  return {
    deps,
    pacers,
    close: async () => {
      await mailer.close();
    },
  };
}
