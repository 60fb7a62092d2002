/**
 * @file The webview's one link to the host: typed `post`, validated incoming messages, and the
 * small persisted state that survives a window reload (`setState` / `getState`).
 */
import {
  isHostToWebview,
  isPersistedState,
  type HostToWebview,
  type PersistedState,
  type WebviewId,
  type WebviewToHost,
} from '../shared/webviewProtocol';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

// acquireVsCodeApi may be called only once per page load.
const api: VsCodeApi = acquireVsCodeApi();

export function post(message: WebviewToHost): void {
  api.postMessage(message);
}

/** Calls `handler` for every valid host message; everything else is counted and dropped. */
export function onHostMessage(handler: (m: HostToWebview) => void): void {
  window.addEventListener('message', (event: MessageEvent<unknown>) => {
    // Marks let a profiler (and the browser test) split delivery, validation and drawing.
    performance.mark('moeLens:message');
    const data = event.data;
    performance.mark('moeLens:received');
    if (!isHostToWebview(data)) {
      rejected++;
      document.body.dataset.rejected = String(rejected);
      return;
    }
    performance.mark('moeLens:valid');
    try {
      handler(data);
    } catch (err) {
      // A drawing bug must not take the page down with it; show it where a person can see it.
      console.error('moe-lens webview:', err);
    }
  });
}

let rejected = 0;

export function loadPersisted(webviewId: WebviewId): PersistedState {
  const s = api.getState();
  if (isPersistedState(s) && s.webviewId === webviewId) {
    return s;
  }
  return { webviewId, uri: null, layer: null, selectedToken: null, scrollTop: 0, transitionLayers: null };
}

export function savePersisted(state: PersistedState): void {
  api.setState(state);
}
