import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineIndex, SpanIndex } from '../../../src/extension/pure/ranges';

describe('LineIndex', () => {
  it('maps offsets across LF, CRLF and CR line ends', () => {
    const text = 'ab\r\ncd\nef\rg';
    const idx = new LineIndex(text);
    assert.equal(idx.lineCount, 4);
    assert.deepEqual(idx.positionAt(0), { line: 0, character: 0 });
    assert.deepEqual(idx.positionAt(2), { line: 0, character: 2 }); // at \r
    assert.deepEqual(idx.positionAt(3), { line: 0, character: 2 }); // between \r and \n: end of line
    assert.deepEqual(idx.positionAt(4), { line: 1, character: 0 });
    assert.deepEqual(idx.positionAt(7), { line: 2, character: 0 });
    assert.deepEqual(idx.positionAt(10), { line: 3, character: 0 });
    assert.deepEqual(idx.positionAt(11), { line: 3, character: 1 });
    assert.deepEqual(idx.positionAt(99), { line: 3, character: 1 });
    assert.equal(idx.offsetAt({ line: 1, character: 1 }), 5);
    assert.equal(idx.offsetAt({ line: 0, character: 50 }), 2);
    for (let off = 0; off <= text.length; off++) {
      if (off !== 3) {
        assert.equal(idx.offsetAt(idx.positionAt(off)), off, `round trip at ${off}`);
      }
    }
  });

  it('counts UTF-16 code units like VS Code (astral characters are 2)', () => {
    const idx = new LineIndex('😀x\ny');
    assert.deepEqual(idx.positionAt(2), { line: 0, character: 2 });
    assert.deepEqual(idx.positionAt(4), { line: 1, character: 0 });
  });
});

describe('SpanIndex', () => {
  const tokens = [
    { id: 1, text: '<s>', start: null, end: null },
    { id: 5, text: 'Hello', start: 0, end: 5 },
    { id: 6, text: ' world', start: 5, end: 11 },
    { id: 7, text: '!', start: 11, end: 12 },
  ];

  it('finds the token at an offset and skips span-less tokens', () => {
    const s = SpanIndex.fromTokens(tokens);
    assert.equal(s.tokenAt(0), 1);
    assert.equal(s.tokenAt(4), 1);
    assert.equal(s.tokenAt(5), 2);
    assert.equal(s.tokenAt(11), 3);
    assert.equal(s.tokenAt(12), -1);
    assert.deepEqual(s.visible(), [1, 2, 3]);
  });

  it('prefers the first of two tokens sharing a split character', () => {
    const s = SpanIndex.fromTokens([
      { id: 1, text: 'a', start: 0, end: 1 },
      { id: 2, text: '\ufffd', start: 1, end: 3, partial: true },
      { id: 3, text: '\ufffd', start: 1, end: 3, partial: true },
      { id: 4, text: 'b', start: 3, end: 4 },
    ]);
    assert.equal(s.tokenAt(2), 1);
    assert.equal(s.tokenAt(3), 3);
  });

  it('shifts spans after an edit and drops the tokens it touched', () => {
    const s = SpanIndex.fromTokens(tokens).applyChanges([{ offset: 7, length: 2, textLength: 5 }]); // inside " world"
    assert.deepEqual([...s.starts], [-1, 0, -1, 14]);
    assert.deepEqual([...s.ends], [-1, 5, -1, 15]);
    assert.equal(s.tokenAt(14), 3);
  });

  it('an insertion at a token boundary keeps both neighbours', () => {
    const s = SpanIndex.fromTokens(tokens).applyChanges([{ offset: 5, length: 0, textLength: 3 }]);
    assert.deepEqual([...s.starts], [-1, 0, 8, 14]);
    assert.deepEqual([...s.ends], [-1, 5, 14, 15]);
  });

  it('applies several changes of one event (multi-cursor), given in any order', () => {
    const s = SpanIndex.fromTokens(tokens).applyChanges([
      { offset: 11, length: 1, textLength: 0 }, // delete "!"
      { offset: 0, length: 0, textLength: 2 }, // insert at start
    ]);
    assert.deepEqual([...s.starts], [-1, 2, 7, -1]);
  });
});

describe('SpanIndex.tokenForSelection', () => {
  // The e2e case: token 60 " gate" (154–159) and token 61 "we" (159–162) of sample.md, with a gap 170–172.
  const tokens = [
    ...Array.from({ length: 60 }, (_, i) => ({ id: 9, text: 'x', start: i * 2, end: i * 2 + 1 })),
    { id: 10, text: ' gate', start: 154, end: 159 },
    { id: 11, text: 'we', start: 159, end: 162 },
    { id: 12, text: ' go', start: 162, end: 170 },
    { id: 13, text: '!', start: 172, end: 173 },
  ];
  const s = SpanIndex.fromTokens(tokens);

  it('maps a range selection by its start, whichever way it was made', () => {
    // Selecting " gate" from the panel leaves the caret (active) at 159, where "we" starts.
    assert.equal(s.tokenForSelection(154, 159), 60);
    assert.equal(s.tokenForSelection(159, 154), 60);
    assert.equal(s.tokenForSelection(156, 165), 60);
  });

  it('maps a caret to the token starting there, else the one containing it, else the one ending there', () => {
    assert.equal(s.tokenForSelection(159, 159), 61);
    assert.equal(s.tokenForSelection(157, 157), 60);
    assert.equal(s.tokenForSelection(171, 171), -1, 'in the gap, not at a token end');
    assert.equal(s.tokenForSelection(170, 170), 62, 'caret right after " go"');
    assert.equal(s.tokenForSelection(173, 173), 63, 'caret at the end of the text');
  });

  it('a range starting in a gap maps to the first token inside it', () => {
    assert.equal(s.tokenForSelection(171, 173), 63);
    assert.equal(s.tokenForSelection(170, 172), -1);
  });
});
