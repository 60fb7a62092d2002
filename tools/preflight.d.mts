/** Types for preflight.mjs (plain JS so it runs before `npm ci`). */
export interface Need {
  /** code-server is not installed yet (its addons build here). */
  hostInstall: boolean;
  /** `npm start -- --smoke`: a headless Chromium opens the page. */
  smoke: boolean;
}
export interface Probe {
  file(path: string): boolean;
  command(name: string): boolean;
}
export interface Requirement {
  apt: string;
  why: string;
  neededFor(need: Need): boolean;
  present(probe: Probe): boolean;
}
export const REQUIREMENTS: readonly Requirement[];
export const systemProbe: Probe;
export function missingPackages(need: Need, probe?: Probe): Requirement[];
export function missingLine(missing: readonly Requirement[]): string;
export function preflight(
  need: Need,
  opts?: { probe?: Probe; isRoot?: boolean; install?: (apt: string[]) => boolean; log?: (msg: string) => void },
): string | null;
