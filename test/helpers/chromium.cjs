/* global process, exports */
// Headless Chromium for the browser tests (test/webview, test/e2e and the VS Code stand-in): one
// executable and one set of flags. CommonJS so both the .ts tests (compiled to CJS) and the plain-JS
// stand-in (test/e2e/standin/code.mjs, ESM, no tsx) can import it; types in chromium.d.cts.

/** Debian's Chromium, unless MOE_LENS_CHROMIUM (or the webview tests' older CHROMIUM_PATH) says otherwise. */
const CHROMIUM = process.env.MOE_LENS_CHROMIUM ?? process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** No sandbox/GPU (containers, CI), and nothing that reaches the network on its own. */
const CHROMIUM_ARGS = Object.freeze([
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
]);

/** Options for playwright-core's chromium.launch(). */
function chromiumLaunchOptions() {
  return { executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS] };
}

exports.CHROMIUM = CHROMIUM;
exports.CHROMIUM_ARGS = CHROMIUM_ARGS;
exports.chromiumLaunchOptions = chromiumLaunchOptions;
