// An installed extension (ExtensionMode.Production) registers exactly the commands package.json
// contributes to users; the tests' own commands exist only in Development and Test mode.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
// First: from here on `vscode` is the fake.
import { ExtensionMode, fake, fakeContext } from './helpers/fakeVscode';
import { activate } from '../../../src/extension/extension';
import { TEST_COMMANDS } from '../../../src/extension/testCommands';

const REPO = join(__dirname, '..', '..', '..');

interface Contributes {
  commands: { command: string }[];
  menus?: Record<string, { command: string }[]>;
}
const contributes = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { contributes: Contributes }).contributes;

async function activateIn(mode: ExtensionMode): Promise<string[]> {
  fake.registered.length = 0;
  const context = fakeContext(mode, REPO);
  activate(context as never);
  const ids = [...fake.registered];
  for (const d of context.subscriptions) {
    await d.dispose();
  }
  return ids;
}

test('in production the extension registers exactly the contributed commands', async () => {
  const registered = await activateIn(ExtensionMode.Production);
  const contributed = contributes.commands.map((c) => c.command);
  assert.deepEqual([...registered].sort(), [...contributed].sort());
  assert.ok(TEST_COMMANDS.length > 0);
  for (const id of TEST_COMMANDS) {
    assert.ok(!registered.includes(id), `${id} is registered in production`);
  }
});

test('package.json contributes no test command (none in the palette, none hidden by a menu)', async () => {
  const named = [...contributes.commands, ...Object.values(contributes.menus ?? {}).flat()].map((c) => c.command);
  for (const id of TEST_COMMANDS) {
    assert.ok(!named.includes(id), `package.json names ${id}`);
  }
  assert.ok(!named.some((id) => id.startsWith('moeLens.debug.')));
});

for (const mode of [ExtensionMode.Development, ExtensionMode.Test]) {
  test(`in ${ExtensionMode[mode]} mode the tests' commands are registered too`, async () => {
    const registered = await activateIn(mode);
      for (const id of TEST_COMMANDS) {
      assert.ok(registered.includes(id), `${id} is not registered in ${ExtensionMode[mode]} mode`);
    }
  });
}
