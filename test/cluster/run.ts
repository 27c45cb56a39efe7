/**
 * The cluster run (`npm run test:cluster`): the production shape for real. The Temporal server at
 * the compose file's version on PostgreSQL with SQL visibility (`scripts/cluster.ts`), its search
 * attributes registered by `npm run setup:temporal`, two worker processes and two API processes.
 * Invites are created alternately through both APIs and redeemed through both by the real Action,
 * some claimed by verified email (a visibility lookup), while the Temporal server is SIGKILLed and
 * restarted twice and one worker and one API are SIGKILLed for good.
 *
 * Every invite must complete once, granted once, its emails duplicated only where a kill explains
 * it; the API must answer a server outage with a retryable 503, never a 500; list, history and
 * claim lookups must be answered from SQL visibility.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { startAuth0Emulator } from '../../emulators/auth0';
import type { Auth0Emulator } from '../../emulators/auth0';
import { startHubSpotEmulator } from '../../emulators/hubspot';
import type { HubSpotEmulator } from '../../emulators/hubspot';
import { startMailCatcher } from '../../emulators/mail';
import type { MailCatcher } from '../../emulators/mail';
import { onExecutePostLogin } from '../../actions/post-login';
import type { API as ActionApi, Event as ActionEvent } from '../../actions/post-login';
import { temporalDataConverter } from '../../client/connection';
import { createLinkVerifier, generateLinkKey } from '../../lib/token';
import { inviteWorkflowId, SEARCH_ATTRIBUTE_DEFINITIONS } from '../../workflows/messages';
import type { InviteStatus } from '../../workflows/messages';
import { freePort, startTemporalCluster } from '../../scripts/cluster';
import type { TemporalCluster } from '../../scripts/cluster';
import { tsProcess } from '../../scripts/ts-process';
import { ServiceProcess } from '../support/service-process';
import { m2mToken } from '../support/m2m-token';

const ROOT = join(import.meta.dirname, '..', '..');
const SCOPE = 'workspace:cluster';
const ROLE = 'member';
const NAMESPACE_CLAIMS = 'https://inviteflow.dev/';
/** How long before a kill a message's first copy may arrive and still be explained by it. */
const KILL_WINDOW_BEFORE_MS = 3000;
const KILL_WINDOW_AFTER_MS = 1500;

/** How big the run is. */
export interface ClusterRunOptions {
  invites: number;
  /** Every `claimEvery`-th invite is claimed by verified email instead of its link. */
  claimEvery: number;
  deadlineMs: number;
  log: (line: string) => void;
}

export const FULL_RUN: ClusterRunOptions = { invites: 200, claimEvery: 10, deadlineMs: 12 * 60_000, log: (line) => console.log(line) };

/** What happened. */
export interface ClusterRunSummary {
  version: string;
  created: number;
  completed: number;
  lost: string[];
  doubleGranted: string[];
  duplicateContacts: string[];
  emails: number;
  duplicateEmails: number;
  unexplainedDuplicates: string[];
  serverKills: number;
  workerKills: number;
  apiKills: number;
  /** Answers of the APIs to the funnel and the Action while things were killed, by status. */
  statuses: Record<string, number>;
  /** 5xx answers other than a 503 with Retry-After. */
  badOutages: string[];
  listed: number;
  histories: number;
  claimed: number;
  claims: number;
  seconds: number;
}

interface Tracked {
  n: number;
  email: string;
  inviteId?: string;
  claim: boolean;
  userId?: string;
  redeemed?: boolean;
  redeeming?: Promise<void>;
}

function total(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/** Runs the cluster scenario and returns what happened; throws only when it cannot run at all. */
export async function runClusterRun(opts: ClusterRunOptions): Promise<ClusterRunSummary> {
  const began = Date.now();
  const deadline = began + opts.deadlineMs;
  const log = (line: string) => opts.log(`[${Math.round((Date.now() - began) / 1000)} s] ${line}`);
  let cluster: TemporalCluster | undefined;
  let auth0: Auth0Emulator | undefined;
  let hubspot: HubSpotEmulator | undefined;
  let mail: MailCatcher | undefined;
  const services: ServiceProcess[] = [];
  try {
    cluster = await startTemporalCluster({ log });
    // The search attributes, registered by the very command operators and the compose file run.
    const [command, args] = tsProcess(join(ROOT, 'scripts', 'setup', 'temporal.ts'));
    for (let i = 0; i < 2; i++) {
      execFileSync(command, args, { cwd: ROOT, env: { ...process.env, TEMPORAL_ADDRESS: cluster.address, TEMPORAL_NAMESPACE: cluster.namespace }, stdio: 'pipe' });
    }
    log('search attributes registered by npm run setup:temporal (twice: idempotent)');
    [auth0, hubspot, mail] = await Promise.all([startAuth0Emulator(), startHubSpotEmulator(), startMailCatcher({ smtpPort: 0, httpPort: 0, maxMessages: 100_000 })]);
    auth0.createRole(ROLE);

    const key = await generateLinkKey('cluster');
    const payloadKeyList = [{ id: 'cluster', key: randomBytes(32).toString('base64') }];
    const payloadKeys = JSON.stringify(payloadKeyList);
    const actionSecret = randomBytes(32).toString('base64url');
    const taskQueue = `cluster-${randomBytes(4).toString('hex')}`;
    const apiPorts = [await freePort(), await freePort()];
    const publicBase = `http://127.0.0.1:${apiPorts[0]}`;
    const common = {
      PATH: process.env.PATH ?? '',
      TEMPORAL_ADDRESS: cluster.address,
      TEMPORAL_NAMESPACE: cluster.namespace,
      TEMPORAL_TASK_QUEUE: taskQueue,
      PAYLOAD_KEYS: payloadKeys,
      PUBLIC_BASE_URL: publicBase,
      AUTH0_DOMAIN: auth0.domain,
      AUTH0_CLIENT_ID: 'inviteflow-m2m',
      AUTH0_CLIENT_SECRET: 'inviteflow-m2m-secret',
      AUTH0_MANAGEMENT_ENDPOINT: auth0.url,
      LOG_LEVEL: 'info',
    };
    const workers = [0, 1].map(
      () =>
        new ServiceProcess('worker/main.ts', 'worker started', {
          ...common,
          LINK_SIGNING_KEY: JSON.stringify(key.privateJwk),
          SMTP_URL: mail!.smtpUrl,
          HUBSPOT_ACCESS_TOKEN: hubspot!.accessToken,
          HUBSPOT_BASE_PATH: hubspot!.url,
          AUTH0_MGMT_RATE_LIMIT: '0',
          HUBSPOT_RATE_LIMIT: '0',
        }),
    );
    const idKey = randomBytes(24).toString('base64url');
    const apis = apiPorts.map(
      (port) =>
        new ServiceProcess('api/main.ts', 'api started', {
          ...common,
          PORT: String(port),
          HOST: '127.0.0.1',
          LINK_VERIFICATION_KEYS: JSON.stringify([key.publicJwk]),
          INVITE_ID_KEY: idKey,
          ACTION_SECRET: actionSecret,
          AUTH_ISSUER: `https://${auth0!.domain}/`,
          AUTH_JWKS_URL: `${auth0!.url}/.well-known/jwks.json`,
          APP_LOGIN_URL: 'http://127.0.0.1:9/login',
        }),
    );
    services.push(...workers, ...apis);
    await Promise.all(services.map((s) => s.start()));
    const apiUrls = apiPorts.map((port) => `http://127.0.0.1:${port}`);
    log(`2 workers and 2 APIs (${apiUrls.join(', ')}) on task queue ${taskQueue}`);

    const bearer = await m2mToken(auth0.url, 'https://inviteflow/api');

    const statuses: Record<string, number> = {};
    const badOutages: string[] = [];
    const note = (what: string, res: Response | undefined) => {
      const status = res ? String(res.status) : 'no answer';
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (res && res.status >= 500 && !(res.status === 503 && res.headers.get('retry-after'))) badOutages.push(`${what}: ${res.status}`);
    };
    /** Calls one API, then the other, until one answers other than 503 or not at all. */
    const call = async (what: string, first: number, path: string, init: RequestInit): Promise<Response> => {
      for (let attempt = 0; ; attempt++) {
        if (Date.now() > deadline) throw new Error(`deadline passed calling ${what}`);
        const url = apiUrls[(first + attempt) % 2]!;
        const res = await fetch(`${url}${path}`, { ...init, signal: AbortSignal.timeout(15_000) }).catch(() => undefined);
        note(what, res);
        if (res && res.status !== 503 && res.status < 500) return res;
        await sleep(res ? Number(res.headers.get('retry-after') ?? 1) * 200 : 100);
      }
    };

    const client = new Client({ connection: await Connection.connect({ address: cluster.address }), namespace: cluster.namespace, dataConverter: temporalDataConverter({ PAYLOAD_KEYS: payloadKeyList }) });
    const verifier = createLinkVerifier({ verificationKeys: [key.publicJwk], issuer: publicBase, audience: 'inviteflow-link' });

    const invites: Tracked[] = Array.from({ length: opts.invites }, (_, n) => ({ n, email: `cluster.${n}.${randomBytes(3).toString('hex')}@example.com`, claim: n % opts.claimEvery === opts.claimEvery - 1 }));
    const byInviteId = new Map<string, Tracked>();
    let created = 0;
    let redeemed = 0;
    let claims = 0;

    /** The real Action, through the API of `via`; resolves with the claims it set. */
    const action = async (t: Tracked, via: number, token: string | undefined): Promise<Record<string, unknown>> => {
      const claimsSet: Record<string, unknown> = {};
      const event: ActionEvent = {
        user: { user_id: t.userId!, email: t.email, email_verified: true },
        connection: { name: 'Username-Password-Authentication', strategy: 'auth0' },
        request: { ip: '127.0.0.1', query: token ? { invite: token } : {} },
        transaction: { protocol: 'oidc-basic-profile' },
        secrets: { INVITEFLOW_API_URL: apiUrls[via]!, INVITEFLOW_ACTION_SECRET: actionSecret, CLAIM_BY_EMAIL: 'true', REDEMPTION_TIMEOUT_MS: '5000' },
      };
      const api: ActionApi = {
        access: { deny: (reason: string) => (claimsSet.denied = reason) },
        authentication: { setPrimaryUser: (id: string) => (claimsSet.primaryUser = id) },
        idToken: { setCustomClaim: (name: string, value: unknown) => (claimsSet[name] = value) },
        accessToken: { setCustomClaim: () => undefined },
        user: { setAppMetadata: () => undefined, setUserMetadata: () => undefined },
      };
      await onExecutePostLogin(event, api);
      return claimsSet;
    };

    const redeem = async (t: Tracked, token: string | undefined) => {
      if (!t.userId) t.userId = auth0!.createUser({ email: t.email, email_verified: true, connection: 'Username-Password-Authentication' }).user_id;
      for (let attempt = 0; ; attempt++) {
        if (Date.now() > deadline) throw new Error(`deadline passed redeeming invite ${t.n}`);
        if (!t.claim) {
          const set = await action(t, (t.n + attempt) % 2, token);
          if (set[`${NAMESPACE_CLAIMS}roles`]) break;
          const error = set[`${NAMESPACE_CLAIMS}invite_error`];
          // The API or the server is down for the moment: the person would sign in again.
          if (error !== 'invite_unavailable') throw new Error(`invite ${t.n} refused: ${String(error)}`);
        } else {
          claims++;
          const set = await action(t, (t.n + attempt) % 2, undefined);
          if (set[`${NAMESPACE_CLAIMS}roles`]) break;
        }
        await sleep(300);
      }
      t.redeemed = true;
      redeemed++;
    };

    const seen = new Set<string>();
    const byMessageId = new Map<string, number>();
    const firstArrival = new Map<string, number>();
    let pumping = true;
    const pump = (async () => {
      while (pumping) {
        for (const m of mail.messages()) {
          if (seen.has(m.id)) continue;
          seen.add(m.id);
          const messageId = m.headers['message-id'] ?? m.id;
          byMessageId.set(messageId, (byMessageId.get(messageId) ?? 0) + 1);
          if (!firstArrival.has(messageId)) firstArrival.set(messageId, Date.parse(m.receivedAt));
          const token = /\/i\/([A-Za-z0-9_.-]+)/.exec(m.text)?.[1];
          if (!token) continue;
          const { inviteId } = await verifier.verify(token);
          const t = byInviteId.get(inviteId);
          if (t && !t.redeeming) t.redeeming = redeem(t, t.claim ? undefined : token);
        }
        await sleep(150);
      }
    })();

    // The funnel: invites created alternately through both APIs, ten at a time.
    const create = async (t: Tracked) => {
      const res = await call(`create ${t.n}`, t.n % 2, '/v1/invites', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
        body: JSON.stringify({ email: t.email, scope: SCOPE, roles: [ROLE], data: { n: t.n }, ...(t.claim ? { claimByVerifiedEmail: true } : {}) }),
      });
      if (res.status !== 201 && res.status !== 200) throw new Error(`create ${t.n}: ${res.status} ${await res.text()}`);
      t.inviteId = ((await res.json()) as { id: string }).id;
      byInviteId.set(t.inviteId, t);
      created++;
    };

    // The chaos, paced by progress: the server killed twice and restarted, a worker and an API for good.
    const serverKills: number[] = [];
    const killServer = async () => {
      serverKills.push(Date.now());
      await cluster!.killServer();
      log('Temporal server SIGKILLed');
      await sleep(1500);
      await cluster!.startServer();
      log('Temporal server restarted');
    };
    const until = async (predicate: () => boolean) => {
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error('deadline passed waiting for progress');
        await sleep(50);
      }
    };
    const chaos = (async () => {
      await until(() => created >= opts.invites * 0.2);
      await killServer();
      await until(() => created >= opts.invites * 0.5);
      await workers[1]!.kill();
      log('worker 2 SIGKILLed for good');
      await until(() => redeemed >= opts.invites * 0.3);
      await killServer();
      await until(() => created >= opts.invites * 0.75);
      await apis[1]!.kill();
      log('API 2 SIGKILLed for good');
    })();

    for (let i = 0; i < invites.length; i += 10) await Promise.all(invites.slice(i, i + 10).map(create));
    log(`${created} invites created`);
    await chaos;
    await until(() => invites.every((t) => t.redeeming !== undefined));
    await Promise.all(invites.map((t) => t.redeeming ?? Promise.resolve()));
    log(`${redeemed} redeemed (${claims} claim lookups)`);

    // Each run ends: completed, or not.
    const lost: string[] = [];
    for (const t of invites) {
      const result = await Promise.race([
        client.workflow.getHandle(inviteWorkflowId(t.inviteId!)).result() as Promise<InviteStatus>,
        sleep(Math.max(1000, deadline - Date.now())).then(() => undefined),
      ]).catch(() => undefined);
      if (!result || result.state !== 'completed') lost.push(t.inviteId!);
    }
    pumping = false;
    await pump;

    const doubleGranted: string[] = [];
    const duplicateContacts: string[] = [];
    for (const t of invites) {
      const user = t.userId ? auth0.getUser(t.userId) : undefined;
      const record = (user?.app_metadata as { inviteflow?: Record<string, { inviteId?: string }> } | undefined)?.inviteflow?.[SCOPE];
      if (!user || JSON.stringify(user.roles) !== JSON.stringify([ROLE]) || record?.inviteId !== t.inviteId) doubleGranted.push(t.inviteId!);
      if (hubspot.createdCount(t.email) !== 1) duplicateContacts.push(t.email);
    }
    const kills = [...serverKills, ...workers.flatMap((w) => w.killedAt)];
    const unexplainedDuplicates = [...byMessageId]
      .filter(([, n]) => n > 1)
      .map(([messageId]) => messageId)
      .filter((messageId) => {
        const first = firstArrival.get(messageId)!;
        return !kills.some((k) => first >= k - KILL_WINDOW_BEFORE_MS && first <= k + KILL_WINDOW_AFTER_MS);
      });

    // SQL visibility answers the list (every completed invite, page by page) and the history.
    const listed = new Set<string>();
    for (let round = 0; listed.size < invites.length && Date.now() < deadline; round++) {
      listed.clear();
      let pageToken: string | undefined;
      do {
        const query = new URLSearchParams({ status: 'completed', scope: SCOPE, pageSize: '100', ...(pageToken ? { pageToken } : {}) });
        const res = await call('list', 0, `/v1/invites?${query}`, { headers: { authorization: `Bearer ${bearer}` } });
        const page = (await res.json()) as { items: { id: string }[]; nextPageToken?: string };
        for (const item of page.items) listed.add(item.id);
        pageToken = page.nextPageToken;
      } while (pageToken);
      if (listed.size < invites.length) await sleep(500);
    }
    let histories = 0;
    for (const t of invites.filter((_, i) => i % 10 === 0)) {
      const res = await call('history', 0, `/v1/invites/${t.inviteId}/history`, { headers: { authorization: `Bearer ${bearer}` } });
      const body = (await res.json()) as { events?: { type: string }[] };
      if (res.status === 200 && body.events?.some((e) => e.type === 'completed')) histories++;
    }

    return {
      version: cluster.version,
      created,
      completed: invites.length - lost.length,
      lost,
      doubleGranted,
      duplicateContacts,
      emails: total(Object.fromEntries(byMessageId)),
      duplicateEmails: [...byMessageId.values()].reduce((a, n) => a + (n - 1), 0),
      unexplainedDuplicates,
      serverKills: serverKills.length,
      workerKills: workers.reduce((a, w) => a + w.killedAt.length, 0),
      apiKills: apis.reduce((a, w) => a + w.killedAt.length, 0),
      statuses,
      badOutages,
      listed: [...listed].filter((id) => byInviteId.has(id)).length,
      histories,
      claimed: invites.filter((t) => t.claim && t.redeemed).length,
      claims,
      seconds: Math.round((Date.now() - began) / 1000),
    };
  } finally {
    await Promise.all(services.map((s) => s.kill()));
    await Promise.all([cluster?.stop(), auth0?.close(), hubspot?.close(), mail?.close()]);
  }
}

/** The broken invariants, as readable lines; empty when the run passed. */
export function violations(s: ClusterRunSummary, opts: ClusterRunOptions): string[] {
  const out: string[] = [];
  if (s.created !== opts.invites) out.push(`${opts.invites - s.created} invites were not created`);
  if (s.lost.length) out.push(`${s.lost.length} invites did not complete: ${s.lost.slice(0, 5).join(', ')}`);
  if (s.doubleGranted.length) out.push(`${s.doubleGranted.length} wrong or double Auth0 grants: ${s.doubleGranted.slice(0, 5).join(', ')}`);
  if (s.duplicateContacts.length) out.push(`${s.duplicateContacts.length} duplicated HubSpot contacts`);
  if (s.unexplainedDuplicates.length) out.push(`${s.unexplainedDuplicates.length} duplicate emails no kill explains`);
  if (s.badOutages.length) out.push(`${s.badOutages.length} 5xx answers other than a 503 with Retry-After: ${s.badOutages.slice(0, 5).join(', ')}`);
  if (s.listed !== opts.invites) out.push(`the list found ${s.listed} of ${opts.invites} completed invites`);
  if (s.histories !== Math.ceil(opts.invites / 10)) out.push(`${s.histories} of ${Math.ceil(opts.invites / 10)} histories answered`);
  if (s.serverKills !== 2 || s.workerKills !== 1 || s.apiKills !== 1) out.push(`kills: server ${s.serverKills}, worker ${s.workerKills}, API ${s.apiKills}`);
  return out;
}

/** The result line and the details printed at the end of a run. */
export function formatSummary(s: ClusterRunSummary): string {
  const explained = s.duplicateEmails - s.unexplainedDuplicates.length;
  return [
    `cluster run (Temporal ${s.version} on PostgreSQL, SQL visibility, 2 workers, 2 APIs): invites created ${s.created} / completed ${s.completed} / lost ${s.lost.length} / double-granted ${s.doubleGranted.length} / duplicate emails ${s.duplicateEmails} (${explained} explained by kills)`,
    `  kills: Temporal server ${s.serverKills} (SIGKILL, restarted), worker ${s.workerKills} and API ${s.apiKills} (SIGKILL, for good)`,
    `  answers while killing: ${Object.entries(s.statuses).map(([k, v]) => `${k} ×${v}`).join(', ')}; 5xx other than 503 + Retry-After: ${s.badOutages.length}`,
    `  SQL visibility: list found ${s.listed} completed invites, ${s.histories} histories answered, ${s.claimed} invites claimed by verified email (${s.claims} claim lookups)`,
    `  emails: ${s.emails} received; HubSpot contacts duplicated: ${s.duplicateContacts.length}`,
    `  time: ${s.seconds} s`,
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // The Action logs a line per login, as Auth0 keeps them; here they would bury the summary.
  const print = console.log.bind(console);
  console.log = () => {};
  const opts: ClusterRunOptions = { ...FULL_RUN, invites: Number(process.env.CLUSTER_INVITES ?? FULL_RUN.invites), log: print };
  opts.log(`cluster run: ${opts.invites} invites; search attributes ${Object.keys(SEARCH_ATTRIBUTE_DEFINITIONS).join(', ')}`);
  runClusterRun(opts).then(
    (summary) => {
      print(formatSummary(summary));
      const broken = violations(summary, opts);
      for (const line of broken) console.error(`FAILED: ${line}`);
      process.exit(broken.length ? 1 : 0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
