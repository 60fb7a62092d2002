// The Workspace Trust "inside the workspace" check (engine server and Select Model share it).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { isInside, rootContaining } from '../../../src/shared/insidePath';

test('a folder whose name starts with two dots is inside the workspace', () => {
  assert.equal(isInside('/ws/..evil', '/ws', 'linux'), true);
  assert.equal(isInside('/ws/..evil/model', '/ws', 'linux'), true);
  assert.equal(isInside('/ws/...', '/ws', 'linux'), true);
  assert.equal(isInside('/ws/../other', '/ws', 'linux'), false);
  assert.equal(isInside('/other', '/ws', 'linux'), false);
  assert.equal(isInside('/wsx/model', '/ws', 'linux'), false);
  assert.equal(isInside('/ws', '/ws', 'linux'), true);
});

test('Windows: case and separators do not matter, another drive is outside', () => {
  assert.equal(isInside('C:\\WS\\Models\\a', 'c:\\ws', 'win32'), true);
  assert.equal(isInside('c:\\ws\\..evil\\m', 'C:\\ws', 'win32'), true);
  assert.equal(isInside('D:\\ws\\m', 'C:\\ws', 'win32'), false);
  assert.equal(isInside('C:\\wsx\\m', 'C:\\ws', 'win32'), false);
});

test('macOS: case is folded; Linux: case counts', () => {
  assert.equal(isInside('/Users/me/WS/model', '/Users/me/ws', 'darwin'), true);
  assert.equal(isInside('/home/me/WS/model', '/home/me/ws', 'linux'), false);
});

test('rootContaining resolves symlinks on both sides', async () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'moe-lens-inside-'));
  try {
    const ws = path.join(tmp, 'ws');
    mkdirSync(path.join(ws, '..evil', 'model'), { recursive: true });
    symlinkSync(path.join(ws, '..evil', 'model'), path.join(tmp, 'link'));
    symlinkSync(ws, path.join(tmp, 'ws-link'));
    assert.equal(await rootContaining(path.join(ws, '..evil', 'model'), [ws]), ws);
    assert.equal(await rootContaining(path.join(tmp, 'link'), [ws]), ws);
    assert.equal(await rootContaining(path.join(ws, '..evil', 'model'), [path.join(tmp, 'ws-link')]), path.join(tmp, 'ws-link'));
    assert.equal(await rootContaining(tmp, [ws]), undefined);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
