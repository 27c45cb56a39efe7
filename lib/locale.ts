/**
 * The languages an invitee can be spoken to in, and the one way a date and time is written in
 * each: in the invitee's time zone, named after the time. The emails, the link's pages and the
 * funnel's confirmation all format dates here, so a person reads the same instant the same way
 * everywhere. No imports: the demo's pages use it as well.
 */

/** Locales with their own wording; anything else falls back. */
export const SUPPORTED_LOCALES = ['en', 'fr'] as const;
/** One of the locales with its own wording. */
export type SupportedLocale = (typeof SUPPORTED_LOCALES)[number];

/** The language subtag of a BCP 47 tag (`fr-CA` → `fr`), lower case. */
function language(tag: string): string {
  return tag.trim().toLowerCase().split(/[-_]/)[0] ?? '';
}

/** The supported locale of a tag's language, if any. */
export function supportedLocale(tag: string | undefined): SupportedLocale | undefined {
  if (typeof tag !== 'string') return undefined;
  const lang = language(tag);
  return SUPPORTED_LOCALES.find((l) => l === lang);
}

/** The wording locale for a BCP 47 tag: its language if supported, otherwise `en`. */
export function resolveLocale(tag: string | undefined): SupportedLocale {
  return supportedLocale(tag) ?? 'en';
}

/**
 * The first supported locale among preferences in order (the invite's locale first, then the
 * browser's), or `en`.
 */
export function chooseLocale(preferences: readonly (string | undefined)[]): SupportedLocale {
  for (const tag of preferences) {
    const locale = supportedLocale(tag);
    if (locale) return locale;
  }
  return 'en';
}

/** The language tags of an `Accept-Language` header, most preferred first (`q=0` left out). */
export function acceptedLanguages(header: string | undefined): string[] {
  if (typeof header !== 'string') return [];
  return header
    .slice(0, 1000)
    .split(',')
    .map((part, index) => {
      const [tag = '', ...params] = part.split(';').map((s) => s.trim());
      const q = params.find((p) => /^q=/i.test(p));
      const weight = q === undefined ? 1 : Number(q.slice(2));
      return { tag, weight: Number.isFinite(weight) ? weight : 0, index };
    })
    .filter((l) => l.tag !== '' && l.tag !== '*' && l.weight > 0)
    .sort((a, b) => b.weight - a.weight || a.index - b.index)
    .map((l) => l.tag);
}

const FORMAT: Intl.DateTimeFormatOptions = {
  day: 'numeric',
  month: 'long',
  year: 'numeric',
  hour: 'numeric',
  minute: '2-digit',
  timeZoneName: 'short',
};

/**
 * A date and time as the invitee reads it: `June 14, 2025 at 6:00 PM GMT+2` in English,
 * `14 juin 2025 à 18:00 UTC+2` in French. Without a time zone (or with one the runtime does not
 * know) it is written in UTC, which the text then says.
 */
export function formatDateTime(date: Date | string, locale: SupportedLocale, timeZone?: string): string {
  const when = typeof date === 'string' ? new Date(date) : date;
  let formatter: Intl.DateTimeFormat;
  try {
    formatter = new Intl.DateTimeFormat(locale, { ...FORMAT, timeZone: timeZone ?? 'UTC' });
  } catch {
    formatter = new Intl.DateTimeFormat(locale, { ...FORMAT, timeZone: 'UTC' });
  }
  return formatter.format(when);
}
