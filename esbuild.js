// Builds every runnable piece from src/: the extension host bundle, the engine process, the CLI,
// and the webview scripts. `--production` minifies; `--watch` rebuilds on change.
const esbuild = require('esbuild');
const fs = require('node:fs');
const path = require('node:path');

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

const common = {
  bundle: true,
  minify: production,
  sourcemap: !production,
  sourcesContent: false,
  logLevel: 'warning',
};

// Node-side bundles. tfjs-node is native and optional, so it is never bundled: it is required at
// run time when present.
const nodeCommon = {
  ...common,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['vscode', '@tensorflow/tfjs-node'],
};

const builds = [
  // The extension host never loads tfjs or model code; it only talks to the engine process.
  { ...nodeCommon, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js' },
  // The engine process: forked by the extension, speaks JSON-RPC over IPC.
  { ...nodeCommon, entryPoints: ['src/engine/main.ts'], outfile: 'dist/engine.js' },
  // The tokenizer's watchdog thread, loaded by the engine and the CLI from beside their bundles.
  { ...nodeCommon, entryPoints: ['src/engine/tokenizer/worker.ts'], outfile: 'dist/tokenizerWorker.js' },
  // The engine's second core: its kernel worker thread (src/engine/kernels/kernelPool.ts).
  { ...nodeCommon, entryPoints: ['src/engine/kernels/kernelWorker.ts'], outfile: 'dist/kernelWorker.js' },
  // The headless CLI on the same engine.
  {
    ...nodeCommon,
    entryPoints: ['src/cli/main.ts'],
    outfile: 'dist/cli.js',
    banner: { js: '#!/usr/bin/env node' },
  },
  // Webview scripts run in the browser sandbox of a VS Code webview.
  ...['routing', 'dashboard']
    .filter((name) => fs.existsSync(`src/webview/${name}.ts`))
    .map((name) => ({
      ...common,
      platform: 'browser',
      format: 'iife',
      target: 'es2022',
      entryPoints: [`src/webview/${name}.ts`],
      outfile: `media/${name}.js`,
    })),
];

// The wasm backend fetches its .wasm binaries from disk at run time; ship them beside the bundles.
function copyWasmBinaries() {
  const from = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  fs.mkdirSync('dist', { recursive: true });
  for (const file of fs.readdirSync(path.join(from, 'dist'))) {
    if (file.endsWith('.wasm')) {
      fs.copyFileSync(path.join(from, 'dist', file), path.join('dist', file));
    }
  }
  // The threaded build's pthread workers evaluate its main script from a file (src/engine/kernels/wasmThreads.ts).
  fs.copyFileSync(path.join(from, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js'), path.join('dist', 'tfjs-backend-wasm-threaded-simd.js'));
}

async function main() {
  copyWasmBinaries();
  if (watch) {
    const contexts = await Promise.all(builds.map((b) => esbuild.context(b)));
    await Promise.all(contexts.map((c) => c.watch()));
    return;
  }
  await Promise.all(builds.map((b) => esbuild.build(b)));
  fs.chmodSync('dist/cli.js', 0o755);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
