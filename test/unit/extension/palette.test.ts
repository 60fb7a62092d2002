import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  OPACITY_LEVELS,
  THEMED_EXPERT_COLORS,
  decisiveness,
  deltaE,
  expertColor,
  isColorScheme,
  opacityLevel,
  themedColorId,
  themedColorVar,
  toHex,
} from '../../../src/shared/expertPalette';

describe('expert palette', () => {
  it('keeps 256 categorical colours apart (OKLab ΔE ≥ 0.02, about one just-noticeable difference)', () => {
    const cs = Array.from({ length: 256 }, (_, i) => expertColor(i, 256, 'categorical'));
    let min = Infinity;
    for (let i = 0; i < cs.length; i++) {
      for (let j = 0; j < i; j++) {
        min = Math.min(min, deltaE(cs[i], cs[j]));
      }
    }
    assert.ok(min >= 0.02, `min ΔE ${min}`);
    assert.equal(new Set(cs.map((c) => toHex(c))).size, 256);
  });

  it('spreads a small expert count widely (8 experts: ΔE ≥ 0.15)', () => {
    const cs = Array.from({ length: 8 }, (_, i) => expertColor(i, 8, 'categorical'));
    for (let i = 0; i < 8; i++) {
      for (let j = 0; j < i; j++) {
        assert.ok(deltaE(cs[i], cs[j]) >= 0.15, `experts ${i},${j}`);
      }
    }
  });

  it('gives the same colour to an expert whatever the expert count (categorical)', () => {
    assert.deepEqual(expertColor(5, 8, 'categorical'), expertColor(5, 64, 'categorical'));
  });

  it('keeps mid lightness so text stays readable on light and dark themes', () => {
    for (let i = 0; i < 256; i++) {
      const { r, g, b } = expertColor(i, 256, 'categorical');
      const lum = 0.2126 * r + 0.7152 * g + 0.0722 * b;
      assert.ok(lum > 40 && lum < 235, `expert ${i} luminance ${lum}`);
    }
  });

  it('spectrum scheme orders hue by expert index', () => {
    const a = expertColor(0, 8, 'spectrum');
    const b = expertColor(1, 8, 'spectrum');
    const z = expertColor(4, 8, 'spectrum');
    assert.ok(deltaE(a, b) < deltaE(a, z));
  });

  it('maps decisiveness to opacity levels', () => {
    assert.equal(decisiveness([0.5, 0.5]), 0);
    assert.equal(decisiveness([1, 0]), 1);
    assert.ok(Math.abs(decisiveness([0.75, 0.25]) - 0.5) < 1e-12);
    assert.equal(decisiveness([0.3]), 0.3);
    // raw (unnormalised) and scaled gates use the share, not the absolute value
    assert.ok(Math.abs(decisiveness([0.3, 0.1]) - decisiveness([0.75, 0.25])) < 1e-12);
    assert.equal(opacityLevel([0.5, 0.5]), 0);
    assert.equal(opacityLevel([0.99, 0.01]), 3);
    assert.equal(opacityLevel([]), 0);
    for (const levels of Object.values(OPACITY_LEVELS)) {
      assert.equal(levels.length, 4);
      assert.ok(levels.every((v, i) => i === 0 || v > levels[i - 1]));
    }
  });

  it('writes hex with optional alpha', () => {
    assert.equal(toHex({ r: 255, g: 0, b: 16 }), '#ff0010');
    assert.equal(toHex({ r: 255, g: 0, b: 16 }, 0.5), '#ff001080');
  });

  it('"theme" falls back to the contributed colours\' defaults: the first 16 categorical ones, mod 16', () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8')) as {
      contributes: { colors: { id: string; defaults: Record<string, string> }[] };
    };
    for (let e = 0; e < THEMED_EXPERT_COLORS; e++) {
      const contributed = pkg.contributes.colors.find((c) => c.id === themedColorId(e));
      assert.ok(contributed, themedColorId(e));
      for (const v of Object.values(contributed.defaults)) {
        assert.equal(v.slice(0, 7), toHex(expertColor(e, 64, 'categorical')), `${themedColorId(e)} ${v}`);
      }
      assert.deepEqual(expertColor(e + 16, 64, 'theme'), expertColor(e, 64, 'categorical'));
    }
  });

  it('names the themed colours as VS Code does, in the editor and in webviews', () => {
    assert.equal(themedColorId(3), 'moeLens.expert3Background');
    assert.equal(themedColorId(19), 'moeLens.expert3Background');
    // Webviews get 'vscode-' + the id with its first '.' turned into '-'.
    assert.equal(themedColorVar(3), '--vscode-moeLens-expert3Background');
  });

  it('knows the three colour schemes and nothing else', () => {
    assert.ok(['categorical', 'spectrum', 'theme'].every(isColorScheme));
    assert.ok(![null, undefined, '', 'rainbow', 0].some(isColorScheme));
  });
});
