/**
 * @file The extension's settings, read in one place with their defaults. Settings that could make
 * an untrusted workspace load code-adjacent files, starve the machine (model path, memory limit,
 * window overlap, live mode, …) or inject control tokens are declared restricted in package.json,
 * so VS Code ignores workspace values for them until the workspace is trusted; and they are read
 * here from the user's settings only, so that holds whatever the host does.
 */
import * as vscode from 'vscode';
import type { BackendPreference } from '../shared/engineProtocol';
import { isColorScheme, type ColorScheme } from '../shared/expertPalette';
import { DEFAULT_WINDOW_SETTINGS } from '../shared/windowSettings';

export interface MoeLensConfig {
  /** '' = the embedded model. */
  modelPath: string;
  backend: BackendPreference;
  maxTokensPerWindow: number;
  windowOverlap: number;
  liveMode: boolean;
  /** Analyse a document as soon as an editor shows it. */
  analyzeOnOpen: boolean;
  /** -1 = the model's default layer (see effectiveLayer). */
  selectedLayer: number;
  colorScheme: ColorScheme;
  memoryLimitMb: number;
  /** Threads of the engine's wasm backend; 0 = every core (the engine decides). */
  engineThreads: number;
  requestTimeoutSeconds: number;
  specialTokensInText: 'text' | 'special';
}

/** Settings a workspace may not set until it is trusted: package.json's restrictedConfigurations. */
export const RESTRICTED_SETTINGS: readonly string[] = [
  'modelPath',
  'memoryLimitMb',
  'engineThreads',
  'backend',
  'requestTimeoutSeconds',
  'maxTokensPerWindow',
  'windowOverlap',
  'liveMode',
  'analyzeOnOpen',
  'specialTokensInText',
];

export function readConfig(): MoeLensConfig {
  const section = vscode.workspace.getConfiguration('moeLens');
  const trusted = vscode.workspace.isTrusted;
  const c = {
    get<T>(key: string, def: T): T {
      if (trusted || !RESTRICTED_SETTINGS.includes(key)) {
        return section.get<T>(key, def);
      }
      return section.inspect<T>(key)?.globalValue ?? def;
    },
  };
  const int = (key: string, def: number, min: number): number => {
    const v = c.get<number>(key, def);
    return typeof v === 'number' && Number.isFinite(v) ? Math.max(min, Math.round(v)) : def;
  };
  const backend = c.get<string>('backend', 'auto');
  const scheme = c.get<string>('colorScheme', 'categorical');
  return {
    modelPath: (c.get<string>('modelPath', '') ?? '').trim(),
    backend: (['auto', 'node', 'wasm', 'cpu'].includes(backend) ? backend : 'auto') as BackendPreference,
    maxTokensPerWindow: int('maxTokensPerWindow', DEFAULT_WINDOW_SETTINGS.maxTokensPerWindow, 0),
    windowOverlap: int('windowOverlap', DEFAULT_WINDOW_SETTINGS.windowOverlap, 0),
    liveMode: c.get<boolean>('liveMode', false) === true,
    analyzeOnOpen: c.get<boolean>('analyzeOnOpen', false) === true,
    selectedLayer: int('selectedLayer', -1, -1),
    colorScheme: isColorScheme(scheme) ? scheme : 'categorical',
    memoryLimitMb: int('memoryLimitMb', 4096, 0),
    engineThreads: Math.min(64, int('engineThreads', 0, 0)),
    requestTimeoutSeconds: int('requestTimeoutSeconds', 300, 0),
    specialTokensInText: c.get<string>('specialTokensInText', 'text') === 'special' ? 'special' : 'text',
  };
}
