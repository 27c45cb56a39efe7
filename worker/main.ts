/**
 * The worker process: reads its configuration once, builds the real clients, runs the invite
 * workflow and its activities, and shuts down gracefully on SIGINT/SIGTERM (the Temporal runtime
 * stops polling, lets running activities finish, then `run()` resolves). A Temporal service that
 * is not up yet is waited for (one log line per attempt, backoff), not a crash loop.
 */
import { Runtime } from '@temporalio/worker';
import { ConfigError, loadWorkerConfig } from '../lib/config';
import { connectWithRetry } from '../client/connect-retry';
import { createLogger, temporalLogger } from '../lib/logger';
import type { OutboundPacer } from '../activities/outbound-pacer';
import { temporalDataConverter } from '../client/connection';
import { connectWorker } from './connection';
import { createActivities } from '../activities';
import { buildActivityDeps } from './clients';
import { createInviteWorker } from './worker';

const limitOf = (pacer?: OutboundPacer) => (pacer ? `${pacer.max}/${pacer.windowMs} ms` : 'off');

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
  // The runtime's own signal hook only stops workers; before there is one, a signal ends the wait.
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let connection;
  try {
    connection = await connectWithRetry(() => connectWorker(cfg), {
      address: cfg.TEMPORAL_ADDRESS,
      report: (r) => logger.warn(r, `Temporal at ${r.address} is unreachable (${r.reason}); retrying in ${r.retryInMs} ms`),
      signal: stop.signal,
    });
  } catch (err) {
    await clients.close();
    if (!stop.signal.aborted) throw err;
    logger.info('stopped before Temporal was reached');
    return;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
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
      { address: cfg.TEMPORAL_ADDRESS, namespace: cfg.TEMPORAL_NAMESPACE, taskQueue: cfg.TEMPORAL_TASK_QUEUE, metrics: cfg.WORKER_METRICS_ADDRESS, payloadEncryption: cfg.PAYLOAD_KEYS ? cfg.PAYLOAD_KEYS[0]!.id : 'off', maxCachedWorkflows: worker.options.maxCachedWorkflows, pacing: { auth0: limitOf(clients.pacers.auth0), hubspot: limitOf(clients.pacers.hubspot) } },
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
