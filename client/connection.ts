/**
 * The client connection to the Temporal service, shared by the API, the CLI and the scripts; the
 * worker's native connection (`worker/connection.ts`) uses the same options. Nothing here loads
 * the worker's native bridge.
 */
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { payloadDataConverter } from './codec';
import type { TemporalConfig } from '../lib/config';

// TLS is on for an API key (Temporal Cloud) and for mTLS; the certificate files are read at each
// connect, so a rotated certificate is picked up by the next process start without a rebuild.
export function connectionOptions(cfg: TemporalConfig) {
  const { TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: key } = cfg;
  if ((cert === undefined) !== (key === undefined)) {
    throw new Error('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together (mTLS needs both)');
  }
  const tls = cert && key ? { clientCertPair: { crt: readFileSync(cert), key: readFileSync(key) } } : cfg.TEMPORAL_API_KEY ? true : undefined;
  return {
    address: cfg.TEMPORAL_ADDRESS,
    ...(tls ? { tls } : {}),
    ...(cfg.TEMPORAL_API_KEY ? { apiKey: cfg.TEMPORAL_API_KEY } : {}),
  };
}

/**
 * The data converter of every client and worker of the process: with PAYLOAD_KEYS, payloads are
 * encrypted; a client and a worker that disagreed would not read each other's payloads.
 */
export function temporalDataConverter(cfg: Pick<TemporalConfig, 'PAYLOAD_KEYS'>): DataConverter {
  return payloadDataConverter(cfg.PAYLOAD_KEYS);
}

/** A client for starting, signalling, updating and querying invites (encrypting when configured). */
export async function connectClient(cfg: TemporalConfig): Promise<Client> {
  const connection = await Connection.connect(connectionOptions(cfg));
  return new Client({ connection, namespace: cfg.TEMPORAL_NAMESPACE, dataConverter: temporalDataConverter(cfg) });
}
