/** Connections to the Temporal service, shared by the worker, the API and the CLI. */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { TemporalConfig } from './config';

function connectionOptions(cfg: TemporalConfig) {
  return cfg.TEMPORAL_API_KEY
    ? { address: cfg.TEMPORAL_ADDRESS, tls: true, apiKey: cfg.TEMPORAL_API_KEY }
    : { address: cfg.TEMPORAL_ADDRESS };
}

/** A client for starting, signalling, updating and querying invites. */
export async function connectClient(cfg: TemporalConfig): Promise<Client> {
  const connection = await Connection.connect(connectionOptions(cfg));
  return new Client({ connection, namespace: cfg.TEMPORAL_NAMESPACE });
}

/** The native connection a worker polls with. */
export async function connectWorker(cfg: TemporalConfig): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(cfg));
}
