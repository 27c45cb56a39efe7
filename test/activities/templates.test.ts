// The templates put funnel-supplied names into HTML that mail clients render: everything must be
// escaped, and both locales must say the same things (who, what, until when, how to decline).
import { describe, expect, it } from 'vitest';
import { renderInviteEmail, resolveLocale } from '../../activities/templates';
import { escapeHtml } from '../../lib/html';
import type { InviteEmailInput } from '../../activities/templates';
import { formatDateTime } from '../../lib/locale';

const link = 'https://invites.example.com/i/eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJpbnYifQ.c2ln';
const input = (overrides: Partial<InviteEmailInput> = {}): InviteEmailInput => ({
  kind: 'invite',
  locale: 'en',
  appName: 'Acme',
  link,
  declineLink: `${link}/decline`,
  expiresAt: new Date('2025-06-14T10:00:00Z'),
  inviter: { name: 'Alice Martin', email: 'alice@acme.example' },
  ...overrides,
});

const hostile = `<script>alert("x")</script> O'Brien & "Sons" <img src=x onerror=alert(1)>`;

describe('escaping', () => {
  it('escapes a hostile inviter name and application name everywhere in the HTML part', () => {
    const { html, text, subject } = renderInviteEmail(
      input({ inviter: { name: hostile, email: 'a"b@x.example' }, appName: '<b>Acme</b> & Co' }),
    );
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>Acme');
    expect(html).not.toMatch(/<[^>]*onerror/i);
    expect(html).toContain(
      '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; O&#39;Brien &amp; &quot;Sons&quot;',
    );
    expect(html).toContain('&lt;b&gt;Acme&lt;/b&gt; &amp; Co');
    expect(html).toContain('a&quot;b@x.example');
    // Plain text and the subject are not HTML: they keep the characters as they are.
    expect(text).toContain(`${hostile} (a"b@x.example) invited you to join <b>Acme</b> & Co.`);
    expect(subject).toBe(`${hostile} invited you to join <b>Acme</b> & Co`);
  });

  it('escapes the links in attributes', () => {
    const odd = 'https://invites.example.com/i/a"onmouseover="alert(1)';
    const { html } = renderInviteEmail(input({ link: odd, declineLink: `${odd}/decline` }));
    expect(html).not.toContain('"onmouseover="');
    expect(html).toContain('href="https://invites.example.com/i/a&quot;onmouseover=&quot;alert(1)"');
  });

  it('keeps line breaks out of the subject', () => {
    const { subject } = renderInviteEmail(input({ inviter: { name: 'Eve\r\nBcc: victim@example.com' } }));
    expect(subject).not.toMatch(/[\r\n]/);
    expect(subject).toBe('Eve Bcc: victim@example.com invited you to join Acme');
  });

  it('escapes the five HTML-significant characters', () => {
    expect(escapeHtml(`&<>"'`)).toBe('&amp;&lt;&gt;&quot;&#39;');
  });
});

describe('content', () => {
  it('has a call-to-action with the link, the expiry (UTC without a time zone), the inviter and a decline footer (en)', () => {
    const { html, text, subject, locale } = renderInviteEmail(input());
    expect(locale).toBe('en');
    expect(subject).toBe('Alice Martin invited you to join Acme');
    expect(html).toContain('<html lang="en">');
    expect(html).toMatch(new RegExp(`<a href="${escapeRegExp(link)}"[^>]*>Accept the invitation</a>`));
    expect(html).toContain('Alice Martin (alice@acme.example) invited you to join Acme.');
    expect(html).toMatch(/This invitation expires on June 14, 2025 at 10:00\s?AM UTC\./);
    expect(html).toContain(`<a href="${link}/decline"`);
    expect(html).toContain('Not expecting this invitation?');
    expect(text).toContain(`Accept the invitation:\n${link}\n`);
    expect(text).toContain(`Decline the invitation and stop these emails:\n${link}/decline\n`);
    expect(text).toMatch(/expires on June 14, 2025 at 10:00\s?AM UTC/);
  });

  it('speaks French for fr and regional French tags', () => {
    for (const locale of ['fr', 'fr-CA', 'FR_fr']) {
      const { html, text, subject, locale: used } = renderInviteEmail(input({ locale }));
      expect(used).toBe('fr');
      expect(subject).toBe('Alice Martin vous invite à rejoindre Acme');
      expect(html).toContain('<html lang="fr">');
      expect(html).toContain('Accepter l’invitation</a>');
      expect(html).toContain('Cette invitation expire le 14 juin 2025');
      expect(html).toContain('UTC.');
      expect(text).toContain(`Refuser l’invitation et ne plus recevoir ces e-mails\u00a0:\n${link}/decline`);
    }
  });

  it('falls back to English for other locales; one date format per language, whatever the region', () => {
    for (const locale of ['de', 'pt-BR', '', 'not a locale!!']) {
      expect(renderInviteEmail(input({ locale })).subject).toBe('Alice Martin invited you to join Acme');
    }
    for (const locale of ['en-GB', 'pt-BR', 'en']) {
      expect(renderInviteEmail(input({ locale })).text).toMatch(/expires on June 14, 2025 at 10:00\s?AM UTC/);
    }
    expect(renderInviteEmail(input({ locale: 'fr-CA' })).text).toContain('expire le 14 juin 2025 à 10:00 UTC');
    expect(resolveLocale('fr-BE')).toBe('fr');
    expect(resolveLocale('es')).toBe('en');
  });

  it("writes the expiry in the invitee's time zone, named, exactly as the pages do", () => {
    const paris = renderInviteEmail(input({ locale: 'fr', timeZone: 'Europe/Paris' }));
    expect(paris.text).toContain('Cette invitation expire le 14 juin 2025 à 12:00 UTC+2.');
    expect(paris.text).toContain(formatDateTime(new Date('2025-06-14T10:00:00Z'), 'fr', 'Europe/Paris'));
    const newYork = renderInviteEmail(input({ timeZone: 'America/New_York' }));
    expect(newYork.text).toMatch(/expires on June 14, 2025 at 6:00\s?AM EDT\./);
    // A zone the runtime does not know is no reason to fail an email: UTC, said so.
    expect(renderInviteEmail(input({ timeZone: 'Mars/Olympus' })).text).toMatch(/10:00\s?AM UTC/);
  });

  it('words reminders differently from the first email', () => {
    const en = renderInviteEmail(input({ kind: 'reminder' }));
    expect(en.subject).toBe('Reminder: Alice Martin invited you to join Acme');
    expect(en.text).toContain('Just a reminder: Alice Martin (alice@acme.example) invited you to join Acme');
    const fr = renderInviteEmail(input({ kind: 'reminder', locale: 'fr' }));
    expect(fr.subject).toBe('Rappel\u00a0: Alice Martin vous invite à rejoindre Acme');
  });

  it('says who invited them only when an inviter is given', () => {
    const anonymous = renderInviteEmail(input({ inviter: undefined }));
    expect(anonymous.subject).toBe("You're invited to join Acme");
    expect(anonymous.text).toContain('You have been invited to join Acme.');
    expect(anonymous.html).not.toContain('alice');
    const emailOnly = renderInviteEmail(input({ inviter: { email: 'alice@acme.example' } }));
    expect(emailOnly.subject).toBe('alice@acme.example invited you to join Acme');
    const blank = renderInviteEmail(input({ inviter: { name: '  ', email: '' }, locale: 'fr' }));
    expect(blank.subject).toBe('Invitation à rejoindre Acme');
  });
});

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
