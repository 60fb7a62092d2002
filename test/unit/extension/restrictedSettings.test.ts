// Workspace Trust: a workspace cannot set what could starve the machine or inject control tokens.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
// First: from here on `vscode` is the fake.
import { fake } from './helpers/fakeVscode';
import { RESTRICTED_SETTINGS, readConfig } from '../../../src/extension/config';

const workspace = fake.module.workspace as { isTrusted: boolean };
const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as {
  capabilities: { untrustedWorkspaces: { restrictedConfigurations: string[] } };
};

afterEach(() => {
  fake.settings.clear();
  workspace.isTrusted = true;
});

test('package.json restricts exactly the settings readConfig guards, the four of issue 10 among them', () => {
  const declared = pkg.capabilities.untrustedWorkspaces.restrictedConfigurations;
  assert.deepEqual([...declared].sort(), RESTRICTED_SETTINGS.map((k) => `moeLens.${k}`).sort());
  for (const key of ['windowOverlap', 'liveMode', 'analyzeOnOpen', 'specialTokensInText']) {
    assert.ok(declared.includes(`moeLens.${key}`), `moeLens.${key} is not restricted`);
  }
});

test('in an untrusted workspace only the user value of a restricted setting counts', () => {
  fake.settings.set('moeLens.windowOverlap', { workspaceValue: 4095 });
  fake.settings.set('moeLens.liveMode', { workspaceValue: true });
  fake.settings.set('moeLens.analyzeOnOpen', { globalValue: false, workspaceValue: true });
  fake.settings.set('moeLens.specialTokensInText', { workspaceValue: 'special' });
  fake.settings.set('moeLens.maxTokensPerWindow', { globalValue: 512, workspaceValue: 2 });
  fake.settings.set('moeLens.colorScheme', { workspaceValue: 'spectrum' });
  workspace.isTrusted = false;
  const untrusted = readConfig();
  assert.equal(untrusted.windowOverlap, 32);
  assert.equal(untrusted.liveMode, false);
  assert.equal(untrusted.analyzeOnOpen, false);
  assert.equal(untrusted.specialTokensInText, 'text');
  assert.equal(untrusted.maxTokensPerWindow, 512, "the user's own value still counts");
  assert.equal(untrusted.colorScheme, 'spectrum', 'an unrestricted setting keeps the workspace value');
  workspace.isTrusted = true;
  const trusted = readConfig();
  assert.equal(trusted.windowOverlap, 4095);
  assert.equal(trusted.liveMode, true);
  assert.equal(trusted.specialTokensInText, 'special');
});
