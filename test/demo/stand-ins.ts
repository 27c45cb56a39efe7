/**
 * Tiny HTTP stand-ins for the demo tests: a server that records every request and answers with
 * whatever the test decides (the tenant's token endpoint, the inviteflow API), and unsigned but
 * well-formed JWTs for the token endpoint to hand out.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a stand-in received. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** How a stand-in answers; it may also destroy the socket to play an unreachable service. */
export type StandInHandler = (request: RecordedRequest, res: ServerResponse) => void;

/** A running stand-in. */
export interface StandIn {
  url: string;
  requests: RecordedRequest[];
  /** Replaces the handler (tests set the answer they need). */
  answer(handler: StandInHandler): void;
  close(): Promise<void>;
}

/** Sends a JSON answer. */
export function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** Starts a recording HTTP server on a free port. */
export async function startStandIn(
  initial: StandInHandler = (_r, res) => json(res, 404, {}),
): Promise<StandIn> {
  let handler = initial;
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(recorded);
      handler(recorded, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    answer: (next) => {
      handler = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A compact JWT with `alg: none`: well-formed, unsigned; the demo's browser code does not verify signatures. */
export function unsignedJwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}
