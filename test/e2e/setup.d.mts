/** Types for setup.mjs (plain JS so .ci/run and tools/start.mjs can run it without tsx). */
export interface HostPaths {
  cache: string;
  nodeDir: string;
  node: string;
  hostDir: string;
  codeServer: string;
  marker: string;
}
export function hostPaths(): HostPaths;
export function hostReady(): boolean;
export function ensureHost(opts?: { log?: (msg: string) => void }): HostPaths & { seconds: number };
/** The environment for an npm started from here: no inherited npm_* variables; `nodeDir`'s Node first on PATH. */
export function innerNpmEnv(parent: NodeJS.ProcessEnv, nodeDir?: string): Record<string, string>;
