/**
 * What the demo funnel's backend does when a person leaves their email: start an invite through
 * the inviteflow API with a machine-to-machine token the browser never sees, and turn the answer
 * into something a page can say.
 */

/** The scope every demo invite is for; one open invite per email in it. */
export const DEMO_SCOPE = 'workspace:demo';

/** What the person typed. */
export interface FunnelSignup {
  email: string;
  name?: string;
}

/** The API's answer, reduced to what the result page shows. */
export type FunnelOutcome =
  | { ok: true; inviteId: string; email: string; expiresAt?: string; alreadyOpen: boolean }
  | { ok: false; status: number; code: string; message: string; problems: string[] };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `400 invalid_request` details as lines such as `email: must be an email`. */
function fieldProblems(details: unknown): string[] {
  if (!Array.isArray(details)) return [];
  const text = (value: unknown) => (typeof value === 'string' ? value : '');
  return details.filter(isRecord).map((d) => `${text(d.field).replace(/^body\./, '')}: ${text(d.message)}`);
}

/** Starts (or finds the open) invite for a funnel sign-up: `POST /v1/invites`. */
export async function requestInvite(opts: {
  apiUrl: string;
  bearerToken: string;
  signup: FunnelSignup;
  timeoutMs?: number;
}): Promise<FunnelOutcome> {
  const { signup } = opts;
  let response: Response;
  try {
    response = await fetch(`${opts.apiUrl.replace(/\/+$/, '')}/v1/invites`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${opts.bearerToken}`,
        'content-type': 'application/json',
        accept: 'application/json',
      },
      body: JSON.stringify({
        email: signup.email,
        scope: DEMO_SCOPE,
        roles: ['member'],
        data: { source: 'demo-funnel', name: signup.name },
        locale: 'en',
      }),
      // A redirect would carry the bearer token somewhere we did not choose.
      redirect: 'error',
      signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
    });
  } catch {
    return {
      ok: false,
      status: 502,
      code: 'api_unreachable',
      message: 'The invitation service did not answer.',
      problems: [],
    };
  }
  const body: unknown = await response.json().catch(() => undefined);
  if (response.ok && isRecord(body) && typeof body.id === 'string') {
    const status = isRecord(body.status) ? body.status : {};
    return {
      ok: true,
      inviteId: body.id,
      email: typeof status.email === 'string' ? status.email : signup.email,
      ...(typeof status.expiresAt === 'string' ? { expiresAt: status.expiresAt } : {}),
      // 200 instead of 201: this email already had an open invite, which the API returned unchanged.
      alreadyOpen: response.status === 200,
    };
  }
  const error = isRecord(body) && isRecord(body.error) ? body.error : {};
  return {
    ok: false,
    // The person's own mistakes keep their status; anything else is the service's failure.
    status: response.status >= 400 && response.status < 500 ? response.status : 502,
    code: typeof error.code === 'string' ? error.code : `http_${response.status}`,
    message:
      typeof error.message === 'string'
        ? error.message
        : `The invitation service answered ${response.status}.`,
    problems: fieldProblems(error.details),
  };
}
