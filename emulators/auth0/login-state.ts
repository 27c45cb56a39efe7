// Short-lived state of interactive logins: the `/authorize` transaction a login page belongs to,
// the browser session behind silent SSO, single-use authorization codes and refresh tokens.
// Everything is in memory and expires like Auth0's would, only sooner where tests benefit.
import { randomBytes } from 'node:crypto';
import type { IdentityRef } from './store';

/** How an account was authenticated, as `event.authentication.methods` lists it. */
export interface AuthMethod {
  name: 'pwd' | 'federated';
  timestamp: string;
}

/** One `/authorize` request waiting for the person to log in. */
export interface LoginTransaction {
  id: string;
  clientId: string;
  /** The whole `/authorize` query, custom parameters included: Actions see it as `event.request.query`. */
  query: Record<string, string>;
  redirectUri: string;
  scope: string;
  state?: string;
  nonce?: string;
  audience?: string;
  codeChallenge: string;
  expiresAt: number;
}

/** A browser session (the emulator's `auth0` cookie). */
export interface LoginSession {
  id: string;
  userId: string;
  authTime: number;
  methods: AuthMethod[];
  /** The identity that authenticated; silent SSO reports its connection again. */
  identity?: IdentityRef;
  expiresAt: number;
}

/** What an authorization code or refresh token stands for. */
export interface TokenGrant {
  clientId: string;
  userId: string;
  sessionId?: string;
  scope: string;
  audience?: string;
  nonce?: string;
  authTime: number;
  idTokenClaims: Record<string, unknown>;
  accessTokenClaims: Record<string, unknown>;
}

/** A single-use authorization code bound to its redirect URI and PKCE challenge. */
export interface AuthorizationCode extends TokenGrant {
  code: string;
  redirectUri: string;
  codeChallenge: string;
  expiresAt: number;
}

/** A refresh token; Auth0 runs post-login Actions again on each exchange. */
export interface RefreshGrant {
  token: string;
  /** The chain of rotated tokens this one belongs to; a reuse revokes the whole chain. */
  family: string;
  clientId: string;
  userId: string;
  sessionId?: string;
  scope: string;
  audience?: string;
  authTime: number;
}

const TRANSACTION_TTL_MS = 60 * 60_000;
const SESSION_TTL_MS = 3 * 24 * 60 * 60_000;
// RFC 6749 recommends at most ten minutes.
const CODE_TTL_MS = 10 * 60_000;

const opaque = (bytes = 24): string => randomBytes(bytes).toString('base64url');

/** Logins in flight, sessions, codes and refresh tokens of one emulator. */
export class LoginState {
  private readonly transactions = new Map<string, LoginTransaction>();
  private readonly sessions = new Map<string, LoginSession>();
  private readonly codes = new Map<string, AuthorizationCode>();
  private readonly refreshTokens = new Map<string, RefreshGrant>();
  private readonly usedRefreshTokens = new Set<string>();
  /** Custom ID-token claims of each issued access token, for `/userinfo`. */
  private readonly userinfoClaims = new Map<string, Record<string, unknown>>();

  /** Opens a transaction for an `/authorize` request. */
  openTransaction(input: Omit<LoginTransaction, 'id' | 'expiresAt'>): LoginTransaction {
    const tx = { ...input, id: opaque(), expiresAt: Date.now() + TRANSACTION_TTL_MS };
    this.transactions.set(tx.id, tx);
    return tx;
  }

  /** The transaction, if it exists and has not expired or completed. */
  transaction(id: string | undefined): LoginTransaction | undefined {
    const tx = id === undefined ? undefined : this.transactions.get(id);
    if (!tx || tx.expiresAt <= Date.now()) return undefined;
    return tx;
  }

  /** Ends a transaction; a page posted again with its id is refused. */
  closeTransaction(id: string): void {
    this.transactions.delete(id);
  }

  /** Starts a browser session for `userId`, authenticated with `identity`. */
  openSession(userId: string, methods: AuthMethod[], identity?: IdentityRef): LoginSession {
    const session: LoginSession = {
      id: opaque(),
      userId,
      authTime: Math.floor(Date.now() / 1000),
      methods,
      ...(identity === undefined ? {} : { identity }),
      expiresAt: Date.now() + SESSION_TTL_MS,
    };
    this.sessions.set(session.id, session);
    return session;
  }

  /** Moves a session to another user (the login continued as the primary user of a linked account). */
  rebindSession(id: string, userId: string): void {
    const session = this.sessions.get(id);
    if (session) session.userId = userId;
  }

  /** The live session with this id. */
  session(id: string | undefined): LoginSession | undefined {
    const session = id === undefined ? undefined : this.sessions.get(id);
    if (!session || session.expiresAt <= Date.now()) return undefined;
    return session;
  }

  /** Ends a session (logout). */
  closeSession(id: string): void {
    this.sessions.delete(id);
  }

  /** Issues an authorization code. */
  issueCode(input: Omit<AuthorizationCode, 'code' | 'expiresAt'>): string {
    const code = opaque(32);
    this.codes.set(code, { ...input, code, expiresAt: Date.now() + CODE_TTL_MS });
    return code;
  }

  /** Takes a code out: a code works once, a second attempt finds nothing. */
  redeemCode(code: string): AuthorizationCode | undefined {
    const entry = this.codes.get(code);
    this.codes.delete(code);
    if (!entry || entry.expiresAt <= Date.now()) return undefined;
    return entry;
  }

  /** Issues a refresh token, starting a new family unless `family` continues one. */
  issueRefreshToken(input: Omit<RefreshGrant, 'token' | 'family'> & { family?: string }): string {
    const token = opaque(32);
    this.refreshTokens.set(token, { ...input, token, family: input.family ?? opaque(12) });
    return token;
  }

  /**
   * Refresh-token rotation as Auth0 does it: a token works once and is exchanged for a new one of
   * the same family; presenting a token that was already exchanged (reuse detection) revokes
   * every token of its family, so a stolen copy and the original both stop working.
   */
  rotateRefreshToken(token: string): RefreshGrant | undefined {
    const grant = this.refreshTokens.get(token);
    if (!grant) return undefined;
    if (this.usedRefreshTokens.has(token)) {
      for (const [other, g] of this.refreshTokens)
        if (g.family === grant.family) this.refreshTokens.delete(other);
      return undefined;
    }
    this.usedRefreshTokens.add(token);
    return grant;
  }

  /** Remembers the ID token's custom claims for `/userinfo` calls made with access token `jti`. */
  rememberUserinfo(jti: string, claims: Record<string, unknown>): void {
    if (Object.keys(claims).length > 0) this.userinfoClaims.set(jti, claims);
  }

  /** Custom claims `/userinfo` returns for the access token `jti`. */
  userinfo(jti: string | undefined): Record<string, unknown> {
    return (jti === undefined ? undefined : this.userinfoClaims.get(jti)) ?? {};
  }

  /** Forgets everything. */
  clear(): void {
    this.transactions.clear();
    this.sessions.clear();
    this.codes.clear();
    this.refreshTokens.clear();
    this.usedRefreshTokens.clear();
    this.userinfoClaims.clear();
  }
}
