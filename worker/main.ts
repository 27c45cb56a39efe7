/**
 * The worker process: reads its configuration once, builds the real clients, runs the invite
 * workflow and its activities, and shuts down gracefully on SIGINT/SIGTERM (the Temporal runtime
 * stops polling, lets running activities finish, then `run()` resolves).
 */
import { Runtime } from '@temporalio/worker';
import { ConfigError, loadWorkerConfig } from '../lib/config';
import { createLogger, temporalLogger } from '../lib/logger';
import { connectWorker, temporalDataConverter } from '../lib/temporal';
import { createActivities } from '../activities';
import { buildActivityDeps } from './clients';
import { createInviteWorker } from './worker';

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
  const clients = buildActivityDeps(cfg);
  const connection = await connectWorker(cfg);
  try {
    const worker = await createInviteWorker({
      connection,
      namespace: cfg.TEMPORAL_NAMESPACE,
      taskQueue: cfg.TEMPORAL_TASK_QUEUE,
      activities: createActivities(clients.deps),
      dataConverter: temporalDataConverter(cfg),
    });
    logger.info(
      { address: cfg.TEMPORAL_ADDRESS, namespace: cfg.TEMPORAL_NAMESPACE, taskQueue: cfg.TEMPORAL_TASK_QUEUE, metrics: cfg.WORKER_METRICS_ADDRESS, payloadEncryption: cfg.PAYLOAD_KEYS ? cfg.PAYLOAD_KEYS[0]!.id : 'off' },
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
