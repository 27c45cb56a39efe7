/**
 * The API process: reads its configuration once, builds the real dependencies (Temporal client,
 * link verifier, Auth0 account check), listens, and closes gracefully on SIGINT/SIGTERM (Fastify
 * stops accepting, answers in-flight requests, then the Temporal connection closes). A Temporal
 * service that is not up yet is waited for (one log line per attempt, backoff), not a crash loop.
 */
import { ConfigError, loadApiConfig } from '../lib/config';
import { connectWithRetry } from '../client/connect-retry';
import { createLogger } from '../lib/logger';
import { createManagementClient } from '../services/auth0';
import { createRoleCatalogue } from '../services/auth0-roles';
import { EncryptionCodec } from '../client/codec';
import { connectClient } from '../client/connection';
import { createLinkVerifier } from '../lib/token';
import { createAccountCheck } from './accounts';
import { buildApp } from './app';
import type { FastifyInstance } from 'fastify';
import type { Client } from '@temporalio/client';

async function main(): Promise<void> {
  const cfg = loadApiConfig();
  const startLog = createLogger('inviteflow-api', cfg.LOG_LEVEL);
  const temporal = await connectWithRetry(() => connectClient(cfg), {
    address: cfg.TEMPORAL_ADDRESS,
    report: (r) => startLog.warn(r, `Temporal at ${r.address} is unreachable (${r.reason}); retrying in ${r.retryInMs} ms`),
  });
  const management = createManagementClient({
    domain: cfg.AUTH0_DOMAIN,
    clientId: cfg.AUTH0_CLIENT_ID,
    clientSecret: cfg.AUTH0_CLIENT_SECRET,
    endpoint: cfg.AUTH0_MANAGEMENT_ENDPOINT,
    // The landing page gives up on the lookup after 1.5 s anyway; a role listing page takes less.
    timeoutSeconds: 3,
  });
  const app = await buildApp({
    config: cfg,
    temporal,
    linkVerifier: createLinkVerifier({
      verificationKeys: cfg.LINK_VERIFICATION_KEYS,
      issuer: cfg.PUBLIC_BASE_URL,
      audience: cfg.LINK_AUDIENCE,
    }),
    accountExists: createAccountCheck(management),
    // Role names are checked at creation against a copy of the tenant's roles.
    roles: createRoleCatalogue({ management, maxAgeMs: cfg.AUTH0_ROLES_MAX_AGE }),
    logLevel: cfg.LOG_LEVEL,
    trustProxy: cfg.TRUST_PROXY,
    // Operators read encrypted payloads in the Temporal UI through this endpoint.
    ...(cfg.PAYLOAD_KEYS
      ? {
          codec: {
            codec: new EncryptionCodec(cfg.PAYLOAD_KEYS),
            corsOrigin: cfg.CODEC_CORS_ORIGIN,
            namespace: cfg.TEMPORAL_NAMESPACE,
            loopbackWithoutToken: cfg.CODEC_LOOPBACK_WITHOUT_TOKEN,
          },
        }
      : {}),
  });

  closeOnSignals(app, temporal);

  await app.listen({ port: cfg.PORT, host: cfg.HOST });
  app.log.info(
    { temporal: cfg.TEMPORAL_ADDRESS, namespace: cfg.TEMPORAL_NAMESPACE, taskQueue: cfg.TEMPORAL_TASK_QUEUE, payloadEncryption: cfg.PAYLOAD_KEYS ? cfg.PAYLOAD_KEYS[0]!.id : 'off' },
    'api started',
  );
}

/** Closes the app, then the Temporal connection, on the first SIGINT or SIGTERM. */
function closeOnSignals(app: FastifyInstance, temporal: Client): void {
  let closing = false;
  const close = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    try {
      await app.close();
      await temporal.connection.close();
      process.exit(0);
    } catch (err) {
      app.log.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.once('SIGINT', () => void close('SIGINT'));
  process.once('SIGTERM', () => void close('SIGTERM'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(78); // EX_CONFIG
  }
  console.error(err);
  process.exit(1);
});
