// The one place where a language is chosen and a date written for an invitee: the emails, the
// link's pages and the funnel's confirmation all go through it, so they cannot disagree.
import { describe, expect, it } from 'vitest';
import { acceptedLanguages, chooseLocale, formatDateTime, resolveLocale } from '../../lib/locale';

describe('choosing the language', () => {
  it('takes the first supported language among the preferences, else English', () => {
    expect(chooseLocale(['fr-CA', 'en'])).toBe('fr');
    expect(chooseLocale([undefined, 'de', 'FR_be'])).toBe('fr');
    expect(chooseLocale(['de', 'es'])).toBe('en');
    expect(chooseLocale([])).toBe('en');
    expect(resolveLocale('pt-BR')).toBe('en');
  });

  it('reads Accept-Language by weight, then by order, leaving out q=0 and *', () => {
    expect(acceptedLanguages('de;q=0.5, fr-FR, en;q=0.8')).toEqual(['fr-FR', 'en', 'de']);
    expect(acceptedLanguages('fr;q=0, *;q=0.1, en')).toEqual(['en']);
    expect(acceptedLanguages('es, fr;q=0.9')).toEqual(['es', 'fr']);
    expect(acceptedLanguages(undefined)).toEqual([]);
    expect(chooseLocale(['de', ...acceptedLanguages('es, fr;q=0.9')])).toBe('fr');
  });
});

describe('writing a date', () => {
  const at = new Date('2026-12-02T10:00:00Z');

  it('writes one format per language, in the given time zone, named', () => {
    expect(formatDateTime(at, 'fr', 'Europe/Paris')).toBe('2 décembre 2026 à 11:00 UTC+1');
    expect(formatDateTime(at, 'en', 'America/New_York')).toMatch(/^December 2, 2026 at 5:00\sAM EST$/);
    expect(formatDateTime(at.toISOString(), 'en', 'America/New_York')).toBe(formatDateTime(at, 'en', 'America/New_York'));
  });

  it('writes UTC, and says so, without a time zone or with one it does not know', () => {
    expect(formatDateTime(at, 'fr')).toBe('2 décembre 2026 à 10:00 UTC');
    expect(formatDateTime(at, 'en', 'Not/AZone')).toMatch(/^December 2, 2026 at 10:00\sAM UTC$/);
  });
});
