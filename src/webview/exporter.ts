/**
 * @file Saving charts and data from a webview. Downloads do not work inside a webview, so the
 * page posts the bytes to the host (`export/save`), which shows a save dialog and answers with
 * `export/didSave`; the answer is shown briefly in a status line.
 */
import { SaveExportRequest, type ExportFormat } from '../shared/webviewProtocol';
import { el } from './dom';
import { post } from './vscodeApi';

let nextId = 1;
const pending = new Map<number, string>();
let status: HTMLElement | null = null;
let timer = 0;

export function saveExport(fileName: string, format: ExportFormat, data: string): void {
  const id = nextId++;
  pending.set(id, fileName);
  post({ method: SaveExportRequest, params: { id, fileName: fileName.replace(/[^\w. -]/g, '_'), format, data } });
}

export function onExportSaved(id: number, saved: boolean, path: string | null, error: string | null): void {
  const name = pending.get(id);
  pending.delete(id);
  if (name === undefined) {
    return;
  }
  if (!status) {
    status = el('div', 'status');
    status.setAttribute('role', 'status');
    document.body.appendChild(status);
  }
  status.hidden = false;
  status.textContent = error ? `Could not save ${name}: ${error}` : saved ? `Saved ${path ?? name}` : `Not saved: ${name}`;
  window.clearTimeout(timer);
  timer = window.setTimeout(() => {
    if (status) {
      status.hidden = true;
    }
  }, 4000);
}

/** RFC 4180 CSV: fields with commas, quotes or newlines are quoted, quotes doubled. */
export function toCsv(rows: readonly (readonly (string | number | null)[])[]): string {
  return rows
    .map((r) =>
      r
        .map((v) => {
          const s = v === null ? '' : typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : v;
          return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
        })
        .join(','),
    )
    .join('\r\n');
}
