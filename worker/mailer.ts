/**
 * The SMTP client the worker sends invite emails through: a pooled nodemailer transport built
 * from one URL, so production (`smtps://user:pass@provider:465`) and the local mail catcher
 * (`smtp://127.0.0.1:1025`) differ only in configuration.
 */
import nodemailer from 'nodemailer';
import type { SMTPPoolSentMessageInfo, SendMailOptions } from 'nodemailer';

/** A pooled SMTP transport; structurally the `Mailer` the email activity needs. */
export interface SmtpMailer {
  /** Sends one message; rejects with nodemailer's error (carrying `responseCode`) on failure. */
  sendMail(message: SendMailOptions): Promise<SMTPPoolSentMessageInfo>;
  /** Connects (and authenticates) once, to fail fast at start-up on a wrong URL or credentials. */
  verify(): Promise<void>;
  /** Closes the pooled connections (idle ones at once, busy ones after their message). */
  close(): Promise<void>;
}

/** Options of `createMailer`. */
export interface MailerOptions {
  /** `smtp://host:port` (STARTTLS when offered) or `smtps://user:pass@host:port` (implicit TLS). */
  smtpUrl: string;
  /** Parallel SMTP connections (default 5). */
  maxConnections?: number;
}

/** Creates a pooled SMTP transport from a URL. */
export function createMailer(opts: MailerOptions): SmtpMailer {
  const url = new URL(opts.smtpUrl);
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    // The URL may carry a password: name the scheme only.
    throw new TypeError(`SMTP URL must start with smtp:// or smtps:// (got ${url.protocol}//)`);
  }
  const transport = nodemailer.createTransport({
    url: opts.smtpUrl,
    pool: true,
    maxConnections: opts.maxConnections ?? 5,
    // Bounded waits: an activity must fail and let Temporal retry rather than hang on a dead
    // server for nodemailer's defaults (2 min to connect, 10 min of socket silence).
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 60_000,
    // The SMTP transcript would contain addresses and the links' tokens.
    logger: false,
    debug: false,
  });

  return {
    sendMail: (message) => transport.sendMail(message),
    async verify() {
      await transport.verify();
    },
    close() {
      transport.close();
      return Promise.resolve();
    },
  };
}
