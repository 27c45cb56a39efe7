/**
 * What the demo funnel's backend does when a person leaves their email: start an invite through
 * the inviteflow API with a machine-to-machine token the browser never sees, and turn the answer
 * into something a page can say.
 */

/** The scope every demo invite is for; one open invite per email in it. */
export const DEMO_SCOPE = 'workspace:demo';

/** What the person typed, and the language of the page they typed it in (the invite's). */
export interface FunnelSignup {
  email: string;
  name?: string;
  locale: string;
}

/** A field of the funnel form. */
export type FunnelField = 'email' | 'name';
/** What is wrong with a field; the page says it in its language. */
export type FunnelFieldProblem = 'required' | 'invalid' | 'too_long';
/** Why an invite could not be started, as far as the person is concerned. */
export type FunnelFailure = 'unavailable' | 'rate_limited' | 'rejected' | 'form';

/** What went wrong with a submitted form: per field, and/or as a whole (with a code for support). */
export interface FunnelErrors {
  fields?: Partial<Record<FunnelField, FunnelFieldProblem>>;
  failure?: FunnelFailure;
  code: string;
}

/** The API's answer, reduced to what the result page shows. */
export type FunnelOutcome =
  | { ok: true; inviteId: string; email: string; expiresAt?: string; timeZone?: string; alreadyOpen: boolean }
  | ({ ok: false; status: number } & FunnelErrors);

// The API's limits, checked here first so a person hears about them next to the field.
const MAX_EMAIL = 254;
const MAX_NAME = 100;
// One address, nothing around it; the API checks it properly.
const EMAIL_SHAPE = /^[^\s@<>,;:"()[\]\\]+@[^\s@<>,;:"()[\]\\]+\.[^\s@<>,;:"()[\]\\]+$/;

/** Problems the form has before anything is sent; empty when there are none. */
export function checkSignup(signup: { email: string; name: string }): Partial<Record<FunnelField, FunnelFieldProblem>> {
  const fields: Partial<Record<FunnelField, FunnelFieldProblem>> = {};
  if (signup.email === '') fields.email = 'required';
  else if (signup.email.length > MAX_EMAIL) fields.email = 'too_long';
  else if (!EMAIL_SHAPE.test(signup.email)) fields.email = 'invalid';
  if (signup.name.length > MAX_NAME) fields.name = 'too_long';
  return fields;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The form fields a `400 invalid_request` names in its details (`body.email`, `body.data.name`);
 * its messages are the API's, for programs, so the page says its own.
 */
function fieldProblems(details: unknown): Partial<Record<FunnelField, FunnelFieldProblem>> {
  const fields: Partial<Record<FunnelField, FunnelFieldProblem>> = {};
  if (!Array.isArray(details)) return fields;
  for (const detail of details.filter(isRecord)) {
    const field = typeof detail.field === 'string' ? detail.field : '';
    if (/^(body\.)?email$/.test(field)) fields.email = 'invalid';
    else if (/^(body\.)?data\.name$/.test(field)) fields.name = 'invalid';
  }
  return fields;
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
        locale: signup.locale,
      }),
      // A redirect would carry the bearer token somewhere we did not choose.
      redirect: 'error',
      signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
    });
  } catch {
    return { ok: false, status: 502, code: 'api_unreachable', failure: 'unavailable' };
  }
  const body: unknown = await response.json().catch(() => undefined);
  if (response.ok && isRecord(body) && typeof body.id === 'string') {
    const status = isRecord(body.status) ? body.status : {};
    const timeZone = isRecord(status.sendWindow) ? status.sendWindow.timeZone : undefined;
    return {
      ok: true,
      inviteId: body.id,
      email: typeof status.email === 'string' ? status.email : signup.email,
      ...(typeof status.expiresAt === 'string' ? { expiresAt: status.expiresAt } : {}),
      // The invitee's time zone, in which the emails and the link's pages write dates too.
      ...(typeof timeZone === 'string' ? { timeZone } : {}),
      // 200 instead of 201: this email already had an open invite, which the API returned unchanged.
      alreadyOpen: response.status === 200,
    };
  }
  const error = isRecord(body) && isRecord(body.error) ? body.error : {};
  const code = typeof error.code === 'string' ? error.code : `http_${response.status}`;
  const fields = fieldProblems(error.details);
  const named = Object.keys(fields).length > 0;
  const failure: FunnelFailure | undefined =
    response.status === 429 ? 'rate_limited' : response.status >= 500 || response.status < 400 ? 'unavailable' : named ? undefined : 'rejected';
  return {
    ok: false,
    // The person's own mistakes keep their status; anything else is the service's failure.
    status: response.status >= 400 && response.status < 500 ? response.status : 502,
    code,
    ...(named ? { fields } : {}),
    ...(failure ? { failure } : {}),
  };
}
