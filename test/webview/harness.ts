/**
 * @file Loads the built panels (media/*.js, media/*.css) in headless Chromium, behind the same HTML
 * and CSP the extension serves, from a loopback HTTP server. A stand-in acquireVsCodeApi (stub.js)
 * records what the page posts; the test plays the host by posting messages into the page.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { buildHtml, makeNonce } from '../../src/extension/panels/html';
import { CHROMIUM, chromiumLaunchOptions } from '../helpers/chromium.cjs';

const root = join(__dirname, '..', '..');
const TYPES: Record<string, string> = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html' };

export type PanelName = 'routing' | 'dashboard';
export type Theme = 'light' | 'dark';

export interface Served {
  origin: string;
  close(): Promise<void>;
}

function page(origin: string, name: PanelName, theme: Theme): string {
  const nonce = makeNonce();
  const html = buildHtml({
    cspSource: origin,
    nonce,
    scriptUri: `${origin}/media/${name}.js`,
    styleUris: [`${origin}/themes/${theme}.css`, `${origin}/media/common.css`, `${origin}/media/${name}.css`],
    title: name,
  });
  // The stand-in API must exist before the panel script runs, as VS Code's does.
  return html.replace('<script nonce=', `<script nonce="${nonce}" src="${origin}/stub.js"></script>\n    <script nonce=`);
}

/** Loopback only; serves the page, media/, the theme stand-ins and the stub. */
export async function serve(): Promise<Served> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const m = /^\/(routing|dashboard)\.html$/.exec(url.pathname);
    if (m) {
      const theme = url.searchParams.get('theme') === 'light' ? 'light' : 'dark';
      res.writeHead(200, { 'content-type': 'text/html' }).end(page(origin, m[1] as PanelName, theme));
      return;
    }
    let file: string | null = null;
    if (url.pathname === '/stub.js') {
      file = join(__dirname, 'stub.js');
    } else if (url.pathname.startsWith('/media/') || url.pathname.startsWith('/themes/')) {
      const base = url.pathname.startsWith('/media/') ? join(root, 'media') : join(__dirname, 'themes');
      const candidate = normalize(join(base, url.pathname.replace(/^\/(media|themes)\//, '')));
      file = candidate.startsWith(base) ? candidate : null;
    }
    if (!file || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Why the browser test cannot run here, or null when it can. */
export function skipReason(): string | null {
  if (!existsSync(CHROMIUM)) {
    return `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;
  }
  if (!existsSync(join(root, 'media', 'routing.js')) || !existsSync(join(root, 'media', 'dashboard.js'))) {
    return 'media/routing.js or media/dashboard.js not built (npm run build)';
  }
  return null;
}

export async function launch(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch(chromiumLaunchOptions());
}

export interface OpenPanel {
  page: Page;
  consoleErrors: string[];
  /** Requests that left the loopback server (must stay empty). */
  foreign: string[];
}

export async function open(browser: Browser, origin: string, name: PanelName, theme: Theme, size = { width: 1280, height: 860 }): Promise<OpenPanel> {
  const context = await browser.newContext({ viewport: size, deviceScaleFactor: 1 });
  // tsx compiles this test with esbuild's keepNames, so functions passed to page.evaluate may call
  // its __name helper; give the page a no-op one (init scripts come through the protocol, not the CSP).
  await context.addInitScript('globalThis.__name = (f) => f;');
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  const foreign: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') {
      consoleErrors.push(m.text());
    }
  });
  page.on('request', (r) => {
    if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) {
      foreign.push(r.url());
    }
  });
  await page.goto(`${origin}/${name}.html?theme=${theme}`);
  return { page, consoleErrors, foreign };
}

/** Plays the host: posts a message into the page as VS Code would. */
export async function hostPost(page: Page, message: unknown): Promise<void> {
  await page.evaluate((m) => (globalThis as unknown as { postMessage(m: unknown, o: string): void }).postMessage(m, '*'), message);
}

export async function posted(page: Page): Promise<{ method: string; params: Record<string, unknown> }[]> {
  return page.evaluate(() => (globalThis as unknown as { __posted: { method: string; params: Record<string, unknown> }[] }).__posted);
}
