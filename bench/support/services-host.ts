/**
 * The outside world of a benchmark, in a process of its own: the Auth0 and HubSpot emulators, the
 * mail catcher and, when asked, status-counting proxies in front of the emulators. In production
 * these are remote services; run inside the benchmark process they would share its event loop with
 * the API and the load generator, and every side effect of a measured call (a grant's five
 * Management API and HubSpot requests) would delay the next measured answer.
 *
 * Started by `stack.ts` with `fork`; configured by the BENCH_SERVICES environment variable (JSON);
 * answers `ServicesCall` messages with `ServicesAnswer`.
 */
import { createServer, request as httpRequest, Agent } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startAuth0Emulator } from '../../emulators/auth0';
import type { ApiUser, NewUser } from '../../emulators/auth0';
import { startHubSpotEmulator } from '../../emulators/hubspot';
import type { HubSpotRateLimit } from '../../emulators/hubspot';
import { startMailCatcher } from '../../emulators/mail';

export interface ServicesConfig {
  auth0RateLimit?: { perSecond: number; burst?: number };
  hubspotRateLimit?: HubSpotRateLimit;
  mailMaxMessages: number;
  countStatuses: boolean;
}

/** Where the services listen, sent once they do. */
export interface ServicesReady {
  type: 'ready';
  auth0: { url: string; domain: string };
  hubspot: { url: string; accessToken: string };
  smtpUrl: string;
  /** The counting proxies' URLs, with `countStatuses`. */
  proxies?: { auth0: string; hubspot: string };
}

/** Response statuses as the proxies saw them: status → count, and `METHOD /route` → status → count. */
export interface StatusSnapshot {
  byStatus: [number, number][];
  byRoute: [string, [number, number][]][];
}

export type ServicesCall = { id: number } & (
  | { method: 'createUser'; user: NewUser }
  | { method: 'mailCount' }
  | { method: 'mailReceivedAt'; to: string; timeoutMs: number }
  | { method: 'statuses' }
  | { method: 'resetStatuses' }
  | { method: 'stop' }
);

export type ServicesAnswer =
  | ServicesReady
  | { type: 'answer'; id: number; value?: unknown; error?: string }
  | { type: 'error'; message: string };

interface StatusCounts {
  byStatus: Map<number, number>;
  byRoute: Map<string, Map<number, number>>;
}

const reply = (message: ServicesAnswer) => process.send?.(message);

async function main(): Promise<void> {
  const config = JSON.parse(process.env.BENCH_SERVICES ?? '{}') as ServicesConfig;
  const [auth0, hubspot, mail] = await Promise.all([
    startAuth0Emulator(
      config.auth0RateLimit
        ? {
            rateLimitPerSecond: config.auth0RateLimit.perSecond,
            ...(config.auth0RateLimit.burst ? { rateLimitBurst: config.auth0RateLimit.burst } : {}),
          }
        : {},
    ),
    startHubSpotEmulator(config.hubspotRateLimit ? { rateLimit: config.hubspotRateLimit } : {}),
    startMailCatcher({ smtpPort: 0, httpPort: 0, maxMessages: config.mailMaxMessages }),
  ]);
  auth0.createRole('member');
  const proxies = config.countStatuses
    ? await Promise.all([countingProxy(auth0.url), countingProxy(hubspot.url)])
    : undefined;

  const calls = async (call: ServicesCall): Promise<unknown> => {
    switch (call.method) {
      case 'createUser': {
        const user: ApiUser = auth0.createUser(call.user);
        return { user_id: user.user_id };
      }
      case 'mailCount':
        return mail.messages().length;
      case 'mailReceivedAt':
        return (await mail.waitForMessage((m) => m.to.includes(call.to), call.timeoutMs)).receivedAt;
      case 'statuses':
        return proxies
          ? { auth0: snapshot(proxies[0].counts), hubspot: snapshot(proxies[1].counts) }
          : undefined;
      case 'resetStatuses':
        for (const proxy of proxies ?? []) {
          proxy.counts.byStatus.clear();
          proxy.counts.byRoute.clear();
        }
        return undefined;
      case 'stop':
        await Promise.all([auth0.close(), hubspot.close(), mail.close(), ...(proxies ?? []).map((p) => p.close())]);
        setImmediate(() => process.exit(0));
        return undefined;
    }
  };
  process.on('message', (call: ServicesCall) => {
    calls(call).then(
      (value) => reply({ type: 'answer', id: call.id, value }),
      (err: unknown) => reply({ type: 'answer', id: call.id, error: err instanceof Error ? err.message : String(err) }),
    );
  });
  reply({
    type: 'ready',
    auth0: { url: auth0.url, domain: auth0.domain },
    hubspot: { url: hubspot.url, accessToken: hubspot.accessToken },
    smtpUrl: mail.smtpUrl,
    ...(proxies ? { proxies: { auth0: proxies[0].url, hubspot: proxies[1].url } } : {}),
  });
}

function snapshot(counts: StatusCounts): StatusSnapshot {
  return {
    byStatus: [...counts.byStatus],
    byRoute: [...counts.byRoute].map(([route, statuses]) => [route, [...statuses]]),
  };
}

/**
 * An HTTP proxy that counts response statuses. The emulators count requests per route but not
 * their answers, and the throttling benchmark needs to know how many were 429s.
 */
async function countingProxy(target: string): Promise<{ url: string; counts: StatusCounts; close(): Promise<void> }> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const counts: StatusCounts = { byStatus: new Map(), byRoute: new Map() };
  const server: Server = createServer((req, res) => {
    const forward = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
        agent,
      },
      (answer: IncomingMessage) => {
        const status = answer.statusCode ?? 0;
        counts.byStatus.set(status, (counts.byStatus.get(status) ?? 0) + 1);
        const route = `${req.method} ${(req.url ?? '').split('?')[0]!.replace(/\/(auth0\|[^/]+|auth0%7C[^/]+|rol_[^/]+|\d+)(?=\/|$)/g, '/:id')}`;
        const perRoute = counts.byRoute.get(route) ?? new Map<number, number>();
        perRoute.set(status, (perRoute.get(status) ?? 0) + 1);
        counts.byRoute.set(route, perRoute);
        res.writeHead(status, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => {
      res.writeHead(502).end();
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

main().catch((err: unknown) => {
  reply({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
});
