/**
 * A stand-in for the `vscode` module, enough to run the extension's activate() outside VS Code and
 * record what it registers. Members activation never touches answer with an inert stub, so the
 * fake does not have to follow every API the extension uses later.
 */
import Module from 'node:module';

/** Anything: callable, constructible, every property another stub; iterates as empty. */
function stub(): unknown {
  const children = new Map<PropertyKey, unknown>();
  const target = function () {} as unknown as object;
  return new Proxy(target, {
    get(_t, key) {
      if (key === 'then') {
        return undefined;
      }
      if (key === Symbol.iterator) {
        return function* () {};
      }
      if (key === Symbol.toPrimitive) {
        return () => '';
      }
      if (!children.has(key)) {
        children.set(key, stub());
      }
      return children.get(key);
    },
    set(_t, key, value) {
      children.set(key, value);
      return true;
    },
    apply: () => stub(),
    construct: () => stub() as object,
  });
}

/** An object whose listed members are real and whose others are stubs. */
function partial<T extends object>(real: T): T {
  const fallback = new Map<PropertyKey, unknown>();
  return new Proxy(real, {
    get(t, key) {
      if (key in t) {
        return (t as Record<PropertyKey, unknown>)[key];
      }
      if (key === 'then') {
        return undefined;
      }
      if (!fallback.has(key)) {
        fallback.set(key, stub());
      }
      return fallback.get(key);
    },
  });
}

const disposable = { dispose(): void {} };

class EventEmitter<T> {
  private readonly listeners = new Set<(e: T) => void>();
  readonly event = (listener: (e: T) => void): { dispose(): void } => {
    this.listeners.add(listener);
    return { dispose: () => void this.listeners.delete(listener) };
  };
  fire(e: T): void {
    this.listeners.forEach((l) => l(e));
  }
  dispose(): void {
    this.listeners.clear();
  }
}

export enum ExtensionMode {
  Production = 1,
  Development = 2,
  Test = 3,
}

export interface FakeVscode {
  /** Command ids registered since the last reset, in order. */
  registered: string[];
  /** The registered commands' handlers, by id (the last registration wins). */
  handlers: Map<string, (...args: unknown[]) => unknown>;
  /**
   * Settings by full key ('moeLens.liveMode'). get() answers the workspace value over the user's,
   * as a host that does not apply Workspace Trust would; inspect() tells them apart.
   */
  settings: Map<string, { globalValue?: unknown; workspaceValue?: unknown }>;
  module: Record<string, unknown>;
}

function makeFake(): FakeVscode {
  const registered: string[] = [];
  const handlers: FakeVscode['handlers'] = new Map();
  const settings: FakeVscode['settings'] = new Map();
  const event = (): { dispose(): void } => disposable;
  // Top-level names must be own properties: the TypeScript loader copies the module's own keys.
  const module = partial({
    ExtensionMode,
    EventEmitter,
    ThemeColor: class {},
    Range: class {},
    Selection: class {},
    MarkdownString: class {},
    Uri: stub(),
    DecorationRangeBehavior: stub(),
    StatusBarAlignment: stub(),
    ViewColumn: stub(),
    ProgressLocation: stub(),
    TextEditorRevealType: stub(),
    QuickPickItemKind: stub(),
    ConfigurationTarget: stub(),
    languages: stub(),
    env: stub(),
    Disposable: class {
      constructor(private readonly fn: () => void) {}
      dispose(): void {
        this.fn();
      }
    },
    commands: partial({
      registerCommand(id: string, handler: (...args: unknown[]) => unknown): { dispose(): void } {
        registered.push(id);
        handlers.set(id, handler);
        return disposable;
      },
    }),
    workspace: partial({
      isTrusted: true,
      workspaceFolders: undefined,
      textDocuments: [],
      onDidChangeConfiguration: event,
      onDidChangeTextDocument: event,
      onDidCloseTextDocument: event,
      getConfiguration(section = '') {
        const full = (key: string): string => (section ? `${section}.${key}` : key);
        return partial({
          get: (key: string, def?: unknown) => settings.get(full(key))?.workspaceValue ?? settings.get(full(key))?.globalValue ?? def,
          inspect: (key: string) => ({ key: full(key), ...settings.get(full(key)) }),
          has: (key: string) => settings.has(full(key)),
        });
      },
    }),
    window: partial({
      activeTextEditor: undefined,
      visibleTextEditors: [],
      onDidChangeActiveTextEditor: event,
      onDidChangeVisibleTextEditors: event,
      onDidChangeTextEditorSelection: event,
      onDidChangeActiveColorTheme: event,
    }),
  }) as unknown as Record<string, unknown>;
  return { registered, handlers, settings, module };
}

/**
 * From the moment this module is loaded, `require('vscode')` answers with the fake: import it
 * before anything that imports `vscode`.
 */
export const fake: FakeVscode = makeFake();
type Load = (request: string, ...rest: unknown[]) => unknown;
const load = (Module as unknown as { _load: Load })._load;
(Module as unknown as { _load: Load })._load = function (this: unknown, request: string, ...rest: unknown[]) {
  return request === 'vscode' ? fake.module : load.call(this, request, ...rest);
};

/** An ExtensionContext with the given mode, its subscriptions collected. */
export function fakeContext(mode: ExtensionMode, extensionPath: string): { extensionMode: ExtensionMode; subscriptions: { dispose(): unknown }[] } & Record<string, unknown> {
  return partial({
    extensionMode: mode,
    extensionPath,
    extensionUri: { fsPath: extensionPath, path: extensionPath, scheme: 'file' },
    subscriptions: [] as { dispose(): unknown }[],
    asAbsolutePath: (rel: string) => `${extensionPath}/${rel}`,
  });
}
