/**
 * @file When a panel gets the whole state (with the trace) and when the small notifications
 * (layer / token / expert) are enough. Posting the trace costs hundreds of ms of host CPU for a
 * 2,000-token document, so it goes only when the analysis it shows changed (a new analysis,
 * another document, or a colour scheme the page must redraw with), or the page (re)loaded and holds nothing.
 * A hidden panel gets nothing: what changed meanwhile goes as one state when it is shown again.
 */

/**
 * What identifies the heavy part of a panel's state: the analysis and the scheme. `analysis` names
 * the stored analysis object, not the document version: a re-analysis of the same version (other
 * settings, another model) is new too.
 */
export function stateKey(uri: string | null, analysis: number | null, colorScheme: string): string {
  return `${uri ?? ''}@${analysis ?? ''}|${colorScheme}`;
}

/** A small id per object (e.g. per stored analysis), for `stateKey`. */
export function objectIds(): (o: object) => number {
  const ids = new WeakMap<object, number>();
  let next = 0;
  return (o) => {
    let id = ids.get(o);
    if (id === undefined) {
      id = ++next;
      ids.set(o, id);
    }
    return id;
  };
}

export type SyncAction = 'state' | 'notify' | 'none';

export class PanelSync {
  /** Key of the state the page holds; null before the first post or after a reload. */
  private sent: string | null = null;
  /** Something changed while the panel was hidden: post the state when it is shown. */
  private owed = false;

  /** The analysis, scheme or followed document may have changed. */
  stateChanged(key: string, visible: boolean): SyncAction {
    if (!visible) {
      this.owed ||= key !== this.sent;
      return 'none';
    }
    if (key === this.sent && !this.owed) {
      return 'none';
    }
    return this.post(key);
  }

  /** A layer / token / expert change: a small notification, or folded into the owed state when hidden. */
  smallChange(visible: boolean): SyncAction {
    if (!visible) {
      this.owed = true;
      return 'none';
    }
    return this.owed ? 'none' : 'notify';
  }

  /** The page loaded (first time or after being torn down while hidden): it holds nothing. */
  ready(key: string): SyncAction {
    return this.post(key);
  }

  /** The panel was shown (or hidden). */
  visibilityChanged(key: string, visible: boolean): SyncAction {
    return visible && this.owed ? this.post(key) : 'none';
  }

  private post(key: string): SyncAction {
    this.sent = key;
    this.owed = false;
    return 'state';
  }
}
