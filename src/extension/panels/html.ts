/**
 * @file The HTML shell of a panel: nothing but a CSP, the stylesheets and one nonce'd script.
 * No vscode import, so the browser test builds exactly the same page.
 *
 * CSP: `default-src 'none'`; scripts only with this load's nonce; styles and images only from the
 * webview's own resource origin (echarts draws PNG exports to data: URLs, hence `img-src data:`).
 */
import { randomBytes } from 'node:crypto';

export interface HtmlParts {
  /** `webview.cspSource`. */
  cspSource: string;
  /** Fresh per load. */
  nonce: string;
  /** `asWebviewUri` of media/<name>.js. */
  scriptUri: string;
  /** `asWebviewUri` of each stylesheet, in order. */
  styleUris: string[];
  title: string;
}

/** 128 random bits, base64: unguessable for a page that must not run injected scripts. */
export function makeNonce(): string {
  return randomBytes(16).toString('base64');
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `style-src ${cspSource}`,
    `font-src ${cspSource}`,
    `img-src ${cspSource} data:`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
}

export function buildHtml(p: HtmlParts): string {
  const styles = p.styleUris.map((u) => `<link rel="stylesheet" href="${escapeHtml(u)}">`).join('\n    ');
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <meta http-equiv="Content-Security-Policy" content="${escapeHtml(contentSecurityPolicy(p.cspSource, p.nonce))}">
    <meta name="viewport" content="width=device-width, initial-scale=1.0">
    ${styles}
    <title>${escapeHtml(p.title)}</title>
  </head>
  <body>
    <div id="app"></div>
    <script nonce="${escapeHtml(p.nonce)}" src="${escapeHtml(p.scriptUri)}"></script>
  </body>
</html>`;
}
