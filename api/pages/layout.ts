/**
 * The HTML shell of the pages a link opens, and the headers they are sent with. The pages carry
 * a link token in their URL, so they send no referrer, are never cached or indexed, and run no
 * script: the CSP allows nothing but the one stylesheet below (by hash) and forms to ourselves.
 */
import { createHash } from 'node:crypto';
import { escapeHtml } from '../../lib/html';

const STYLE = `
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1d1f24}
main{max-width:440px;margin:12vh auto;background:#fff;border-radius:12px;padding:36px 32px;box-shadow:0 1px 3px rgba(0,0,0,.08);overflow-wrap:anywhere}
h1{font-size:22px;margin:0 0 12px}
p{line-height:1.5;margin:0 0 14px}
.muted{color:#6b7080;font-size:14px}
.button{display:inline-block;background:#3b5bdb;color:#fff;text-decoration:none;border:0;border-radius:8px;padding:12px 22px;font-size:16px;cursor:pointer;max-width:100%;box-sizing:border-box;overflow-wrap:anywhere}
.link{color:#6b7080;font-size:13px}
.button.secondary{background:#e7e9f0;color:#1d1f24}
.actions{display:flex;flex-wrap:wrap;gap:10px;margin:20px 0 0}
.actions form{margin:0}
form{margin:0 0 14px}
@media (max-width:480px){main{margin:0;border-radius:0;min-height:100vh;box-sizing:border-box;padding:28px 20px;box-shadow:none}}
`;

const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

/** The Content-Security-Policy of every page. */
export const PAGE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${STYLE_HASH}'`,
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers of every page a link opens (success or problem). */
export const PAGE_HEADERS: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-robots-tag': 'noindex, nofollow',
  'content-security-policy': PAGE_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

/** A whole page around `body` (already-escaped HTML), in `lang`. */
export function page(lang: string, title: string, body: string): string {
  return `<!doctype html>
<html lang="${escapeHtml(lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}
