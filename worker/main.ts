/**
 * The worker process: reads its configuration once, builds the real clients, runs the invite
 * workflow and its activities, and shuts down gracefully on SIGINT/SIGTERM (the Temporal runtime
 * stops polling, lets running activities finish, then `run()` resolves).
 */
import { pino } from 'pino';
import { ConfigError, loadWorkerConfig } from '../lib/config';
import { connectWorker } from '../lib/temporal';
import { createActivities } from '../activities';
import { buildActivityDeps } from './clients';
import { createInviteWorker } from './worker';

async function main(): Promise<void> {
  const cfg = loadWorkerConfig();
  const logger = pino({ name: 'inviteflow-worker', level: cfg.LOG_LEVEL });
  const clients = buildActivityDeps(cfg);
  const connection = await connectWorker(cfg);
  try {
    const worker = await createInviteWorker({
      connection,
      namespace: cfg.TEMPORAL_NAMESPACE,
      taskQueue: cfg.TEMPORAL_TASK_QUEUE,
      activities: createActivities(clients.deps),
    });
    logger.info({ address: cfg.TEMPORAL_ADDRESS, namespace: cfg.TEMPORAL_NAMESPACE, taskQueue: cfg.TEMPORAL_TASK_QUEUE }, 'worker started');
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
