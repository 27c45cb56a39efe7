/**
 * Send windows: reminders reach people in their local daytime, never at night. Pure code on
 * `Intl.DateTimeFormat` with a `timeZone`, so the workflow computes the same instant on every
 * replay (it depends on workflow time and the zone only). No imports: workflow and API share it.
 */

/** A daily window in local time, in minutes after midnight: `[start, end)`. */
export interface SendWindow {
  timeZone: string;
  startMinutes: number;
  endMinutes: number;
}

/** Default window, 09:00–20:00 local. */
export const DEFAULT_SEND_WINDOW = { start: '09:00', end: '20:00' } as const;
/** A window may start no earlier than 07:00 and end no later than 22:00 … */
export const EARLIEST_START_MINUTES = 7 * 60;
export const LATEST_END_MINUTES = 22 * 60;
/** … and must be open at least two hours a day. */
export const MIN_WINDOW_MINUTES = 2 * 60;

// The zone most people writing in that locale live in; the full tag first, then the language. A
// guess, which is why the invite may name its own zone (the funnel usually knows it).
const LOCALE_TIME_ZONES: Record<string, string> = {
  en: 'America/New_York',
  'en-us': 'America/New_York',
  'en-ca': 'America/Toronto',
  'en-gb': 'Europe/London',
  'en-ie': 'Europe/Dublin',
  'en-au': 'Australia/Sydney',
  'en-nz': 'Pacific/Auckland',
  'en-in': 'Asia/Kolkata',
  fr: 'Europe/Paris',
  'fr-fr': 'Europe/Paris',
  'fr-be': 'Europe/Brussels',
  'fr-ch': 'Europe/Zurich',
  'fr-ca': 'America/Toronto',
};

/** The default time zone of a locale (`UTC` when we have no better guess). */
export function defaultTimeZone(locale: string): string {
  const tag = locale.trim().toLowerCase().replace(/_/g, '-');
  return LOCALE_TIME_ZONES[tag] ?? LOCALE_TIME_ZONES[tag.split('-')[0] ?? ''] ?? 'UTC';
}

let primaryNames: Map<string, string> | undefined;

/**
 * The invite's time zone: the IANA name as the caller gave it, spelled as the IANA database
 * spells it (`europe/paris` → `Europe/Paris`), or undefined when the runtime does not know it.
 *
 * The name is kept, not replaced by a "canonical" one: `resolvedOptions().timeZone` answers
 * differently across runtimes (Node 20 turns `Asia/Kolkata` into `Asia/Calcutta` and `Etc/GMT`
 * into `UTC`, while runtimes with ECMAScript's time-zone canonicalization keep the name given), so
 * a canonical form would change with the worker's Node version, and the funnel would not find the
 * zone it sent. Two names of one zone compute the same local times, so nothing else depends on it.
 */
export function ianaTimeZone(zone: string): string | undefined {
  if (typeof zone !== 'string' || zone.length === 0 || zone.length > 64 || !/^[A-Za-z][A-Za-z0-9_+/-]*$/.test(zone)) return undefined;
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
  const key = zone.toLowerCase();
  if (resolved.toLowerCase() === key) return resolved;
  primaryNames ??= new Map(Intl.supportedValuesOf('timeZone').map((name) => [name.toLowerCase(), name]));
  const gmt = /^etc\/(gmt|utc|uct)([+-]\d{1,2})?$/.exec(key);
  return primaryNames.get(key) ?? (gmt ? `Etc/${gmt[1]!.toUpperCase()}${gmt[2] ?? ''}` : zone);
}

/** Minutes after midnight of `HH:MM`, or undefined. */
export function parseClock(value: string): number | undefined {
  const match = typeof value === 'string' ? /^([01]\d|2[0-4]):([0-5]\d)$/.exec(value) : null;
  if (!match) return undefined;
  const minutes = Number(match[1]) * 60 + Number(match[2]);
  return minutes <= 24 * 60 ? minutes : undefined;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Local time of day at `ms` in `zone`, in (fractional) minutes after midnight. */
export function localMinutes(ms: number, zone: string): number {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(zone, format);
  }
  let h = 0;
  let m = 0;
  let s = 0;
  for (const part of format.formatToParts(new Date(ms))) {
    if (part.type === 'hour') h = Number(part.value) % 24;
    else if (part.type === 'minute') m = Number(part.value);
    else if (part.type === 'second') s = Number(part.value);
  }
  return h * 60 + m + s / 60 + (ms % 1000) / 60_000;
}

/** Whether `ms` falls inside the window. */
export function inSendWindow(ms: number, window: SendWindow): boolean {
  const local = localMinutes(ms, window.timeZone);
  return local >= window.startMinutes && local < window.endMinutes;
}

/**
 * The first instant at or after `ms` inside the window. Days with a daylight-saving change are
 * 23 or 25 hours long, so the first guess is checked and corrected against the zone's clock.
 */
export function nextSendTime(ms: number, window: SendWindow): number {
  let at = ms;
  for (let i = 0; i < 4; i++) {
    const local = localMinutes(at, window.timeZone);
    if (local >= window.startMinutes && local < window.endMinutes) {
      if (at === ms) return at;
      // The jump crossed a clock change and overshot the opening: step back to it.
      const opening = at - Math.round((local - window.startMinutes) * 60_000);
      return opening > ms && inSendWindow(opening, window) ? opening : at;
    }
    const wait = local < window.startMinutes ? window.startMinutes - local : 24 * 60 - local + window.startMinutes;
    at += Math.round(wait * 60_000);
  }
  return at;
}
