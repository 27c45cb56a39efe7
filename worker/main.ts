/**
 * The worker process: reads its configuration once, builds the real clients, runs the invite
 * workflow and its activities, and shuts down gracefully on SIGINT/SIGTERM (the Temporal runtime
 * stops polling, lets running activities finish, then `run()` resolves).
 */
import { Runtime } from '@temporalio/worker';
import { ConfigError, loadWorkerConfig } from '../lib/config';
import { createLogger, temporalLogger } from '../lib/logger';
import type { RateLimiter } from '../lib/rate-limit';
import { connectWorker, temporalDataConverter } from '../lib/temporal';
import { createActivities } from '../activities';
import { buildActivityDeps } from './clients';
import { createInviteWorker } from './worker';

const limitOf = (limiter?: RateLimiter) => (limiter ? `${limiter.max}/${limiter.windowMs} ms` : 'off');

async function main(): Promise<void> {
  const cfg = loadWorkerConfig();
  const logger = createLogger('inviteflow-worker', cfg.LOG_LEVEL);
  // One JSON log stream for our code and the SDK's (workflow and activity logs carry the invite
  // id), and Temporal's metrics plus our own counters on one Prometheus endpoint.
  Runtime.install({
    logger: temporalLogger(logger),
    telemetryOptions: {
      logging: { forward: {}, filter: { core: 'WARN', other: 'WARN' } },
      ...(cfg.WORKER_METRICS_ADDRESS ? { metrics: { prometheus: { bindAddress: cfg.WORKER_METRICS_ADDRESS } } } : {}),
    },
  });
  // Client-side pacing of Auth0 and HubSpot (per process), its refusals and 429s counted as metrics.
  const clients = buildActivityDeps(cfg, { metricMeter: Runtime.instance().metricMeter });
  const connection = await connectWorker(cfg);
  try {
    const worker = await createInviteWorker({
      connection,
      namespace: cfg.TEMPORAL_NAMESPACE,
      taskQueue: cfg.TEMPORAL_TASK_QUEUE,
      activities: createActivities(clients.deps),
      dataConverter: temporalDataConverter(cfg),
      maxCachedWorkflows: cfg.WORKER_MAX_CACHED_WORKFLOWS,
    });
    logger.info(
      { address: cfg.TEMPORAL_ADDRESS, namespace: cfg.TEMPORAL_NAMESPACE, taskQueue: cfg.TEMPORAL_TASK_QUEUE, metrics: cfg.WORKER_METRICS_ADDRESS, payloadEncryption: cfg.PAYLOAD_KEYS ? cfg.PAYLOAD_KEYS[0]!.id : 'off', maxCachedWorkflows: worker.options.maxCachedWorkflows, pacing: { auth0: limitOf(clients.limiters.auth0), hubspot: limitOf(clients.limiters.hubspot) } },
      'worker started',
    );
    await worker.run();
    logger.info('worker stopped');
  } finally {
    await connection.close();
    await clients.close();
  }
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(78); // EX_CONFIG
  }
  console.error(err);
  process.exit(1);
});
