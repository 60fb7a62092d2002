import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { objectIds, PanelSync, stateKey } from '../../../src/extension/pure/panelSync';

const A1 = stateKey('file:///a.md', 1, 'categorical');
const A2 = stateKey('file:///a.md', 2, 'categorical');
const B1 = stateKey('file:///b.md', 1, 'categorical');

describe('PanelSync', () => {
  it('posts the trace once per analysis, not on every state change', () => {
    const s = new PanelSync();
    assert.equal(s.ready(A1), 'state');
    // The same analysis stored again, a follow of the same document: nothing to re-send.
    assert.equal(s.stateChanged(A1, true), 'none');
    assert.equal(s.stateChanged(A1, true), 'none');
    assert.equal(s.smallChange(true), 'notify');
    assert.equal(s.stateChanged(A2, true), 'state', 'new version');
    assert.equal(s.stateChanged(B1, true), 'state', 'other document');
    assert.equal(s.stateChanged(stateKey('file:///b.md', 1, 'theme'), true), 'state', 'other colour scheme');
    assert.equal(s.stateChanged(stateKey(null, null, 'theme'), true), 'state', 'analysis cleared');
  });

  it('a page that reloads always gets the state', () => {
    const s = new PanelSync();
    assert.equal(s.ready(A1), 'state');
    assert.equal(s.ready(A1), 'state');
  });

  it('a hidden panel gets nothing until it is shown, then one state', () => {
    const s = new PanelSync();
    s.ready(A1);
    assert.equal(s.stateChanged(A2, false), 'none');
    assert.equal(s.smallChange(false), 'none');
    assert.equal(s.stateChanged(B1, false), 'none');
    assert.equal(s.visibilityChanged(B1, false), 'none');
    assert.equal(s.visibilityChanged(B1, true), 'state');
    assert.equal(s.visibilityChanged(B1, true), 'none', 'already up to date');
    assert.equal(s.stateChanged(B1, true), 'none');
  });

  it('a layer/token/expert change while hidden is owed as a state', () => {
    const s = new PanelSync();
    s.ready(A1);
    assert.equal(s.smallChange(false), 'none');
    assert.equal(s.visibilityChanged(A1, true), 'state');
    assert.equal(s.smallChange(true), 'notify');
  });

  it('showing a panel that missed nothing posts nothing', () => {
    const s = new PanelSync();
    s.ready(A1);
    assert.equal(s.stateChanged(A1, false), 'none');
    assert.equal(s.visibilityChanged(A1, true), 'none');
  });
});

describe('objectIds', () => {
  it('gives each object one stable id, so a re-analysis of the same version is a new state', () => {
    const id = objectIds();
    const a = { uri: 'file:///a.md', version: 3 };
    const again = { uri: 'file:///a.md', version: 3 };
    assert.equal(id(a), id(a));
    assert.notEqual(id(a), id(again));
    const s = new PanelSync();
    s.ready(stateKey(a.uri, id(a), 'categorical'));
    assert.equal(s.stateChanged(stateKey(a.uri, id(a), 'categorical'), true), 'none');
    assert.equal(s.stateChanged(stateKey(again.uri, id(again), 'categorical'), true), 'state');
  });
});
