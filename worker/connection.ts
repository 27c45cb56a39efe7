/** The native connection a worker polls with: the clients' options, through the worker's bridge. */
import { NativeConnection } from '@temporalio/worker';
import { connectionOptions } from '../client/connection';
import type { TemporalConfig } from '../lib/config';

export async function connectWorker(cfg: TemporalConfig): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(cfg));
}
