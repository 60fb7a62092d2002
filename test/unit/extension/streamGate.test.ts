// A model that streams from disk: asked once on command, never by live mode or on open; the
// confirmation states bytes and an estimated time; Select Model's entries say what `moe-lens info`
// says; the budget reaches the engine with the watchdog's headroom above it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { engineEnv, watchdogLimitMb } from '../../../src/extension/pure/memoryBudget';
import { modelDescription, modelDetail } from '../../../src/extension/pure/modelPick';
import { CHARS_PER_TOKEN, PARAM_TOKENS_PER_SECOND, STREAM_BYTES_PER_SECOND, confirmText, estimateStreamedRun, formatDuration, streamGate } from '../../../src/extension/pure/streamGate';
import type { DescribedModel } from '../../../src/shared/engineProtocol';
import type { ModelPlanInfo, PlanFacts } from '../../../src/shared/modelPlanText';

const MB = 2 ** 20;
/** The OLMoE-1B-7B shape at a 3,072 MB budget, as the engine plans it. */
const olmoePlan: PlanFacts = {
  mode: 'streamed', refusal: null, budgetBytes: 3072 * MB, diskBytes: 13.84e9, storedBytes: 13.84e9, dtypes: ['BF16'],
  totalParams: 6.92e9, activeParams: 1.28e9, minimumBytes: 1282 * MB, holdBytes: 3010 * MB, cachedLayers: 0,
};
const olmoe: ModelPlanInfo = { path: '/m/olmoe', modelType: 'olmoe', numLayers: 16, numExperts: 64, topK: 8, plan: olmoePlan };

describe('stream gate', () => {
  it('asks on command until confirmed, skips for live mode and analyze-on-open, runs anything not streamed', () => {
    assert.equal(streamGate('streamed', 'command', false), 'confirm');
    assert.equal(streamGate('streamed', 'command', true), 'run');
    assert.equal(streamGate('streamed', 'live', true), 'skip');
    assert.equal(streamGate('streamed', 'live', false), 'skip');
    for (const mode of ['resident', 'refused', undefined] as const) {
      assert.equal(streamGate(mode, 'live', false), 'run', String(mode));
      assert.equal(streamGate(mode, 'command', false), 'run', String(mode));
    }
  });

  it('estimates from the stored bytes and the active parameters a token, at the measured rates', () => {
    const est = estimateStreamedRun(olmoePlan, 256 * CHARS_PER_TOKEN);
    assert.equal(est.tokens, 256);
    assert.equal(est.bytes, 13.84e9);
    assert.equal(est.seconds, 13.84e9 / STREAM_BYTES_PER_SECOND + (256 * 1.28e9) / PARAM_TOKENS_PER_SECOND);
    // The bench's own run (256 tokens) took 204 s; the estimate leans long, never short by much.
    assert.ok(est.seconds > 200 && est.seconds < 300, String(est.seconds));
    assert.equal(estimateStreamedRun(olmoePlan, 0).tokens, 1);
  });

  it('the confirmation names the budget, the bytes read, the hold, the tokens and the time', () => {
    const { message, detail } = confirmText('olmoe', olmoe, estimateStreamedRun(olmoePlan, 4000));
    assert.equal(message, 'Analyse with olmoe? It is streamed from disk: it does not fit the memory budget of 3072 MB.');
    assert.match(detail, /^Each analysis reads up to 13\.84 GB of weights from disk, layer by layer \(again for each window\), holding about 3010 MB\. /);
    assert.match(detail, /This document \(about 1,000 tokens, 1\.28 B active parameters a token\) should take about 13 min /);
    assert.match(detail, /Live mode and analyze-on-open stay off for this model/);
    assert.doesNotMatch(detail, /requestTimeoutSeconds/);
    // 13 min is past a 300 s request timeout: the engine would be stopped, so the modal says to raise it.
    assert.match(confirmText('olmoe', olmoe, estimateStreamedRun(olmoePlan, 4000), 300).detail, /That is longer than moeLens\.requestTimeoutSeconds \(300 s\), after which the engine is stopped: raise it first\./);
    assert.doesNotMatch(confirmText('olmoe', olmoe, estimateStreamedRun(olmoePlan, 4000), 3600).detail, /requestTimeoutSeconds/);
    assert.deepEqual([formatDuration(0.2), formatDuration(89), formatDuration(240), formatDuration(7200)], ['1 s', '89 s', '4 min', '2.0 h']);
  });
});

describe('Select Model entries', () => {
  const cached = { modelType: 'olmoe', experts: 64, topK: 8, sizeBytes: 13.84e9 };
  it('before the plans arrive: what config.json says', () => {
    assert.equal(modelDescription(cached, undefined, false), 'olmoe · 64 experts, k=8 · 13 GB');
    assert.equal(modelDetail('/m/olmoe', undefined), '/m/olmoe');
    assert.equal(modelDetail('/m/x', undefined, false), '/m/x — no .safetensors weights (not supported)');
  });
  it('with the plan: parameters total and active, bytes on disk, streamed / resident / needs at least N MB', () => {
    const d: DescribedModel = { path: '/m/olmoe', info: olmoe, error: null };
    assert.equal(modelDescription(cached, d, true), 'olmoe · 64 experts, k=8 · 6.92 B params, 1.28 B active · 13 GB · current');
    assert.equal(modelDetail('/m/olmoe', d), 'streamed from disk, ≈ 3010 MB of 3072 MB — /m/olmoe');
    const resident = { ...d, info: { ...olmoe, plan: { ...olmoePlan, mode: 'resident' as const, budgetBytes: 18432 * MB, holdBytes: 15000 * MB } } };
    assert.equal(modelDetail('/m/olmoe', resident), 'resident, ≈ 15000 MB of 18432 MB — /m/olmoe');
    const refused = { ...d, info: { ...olmoe, plan: { ...olmoePlan, mode: 'refused' as const, refusal: 'this model needs at least 1282 MB …', budgetBytes: 1024 * MB } } };
    assert.equal(modelDetail('/m/olmoe', refused), 'needs at least 1282 MB (budget 1024 MB) — /m/olmoe');
    assert.equal(modelDetail('/m/bad', { path: '/m/bad', info: null, error: 'no config.json in /m/bad' }), '/m/bad — no config.json in /m/bad');
  });
});

describe('memory budget to the engine', () => {
  it('the watchdog allows a quarter above the budget, at least 512 MB; none without a budget', () => {
    assert.deepEqual([watchdogLimitMb(0), watchdogLimitMb(160), watchdogLimitMb(2048), watchdogLimitMb(4096), watchdogLimitMb(16384)], [0, 672, 2560, 5120, 20480]);
  });
  it('the engine gets the budget as MOE_LENS_MAX_MEMORY_MB, and none inherited when the setting is 0', () => {
    const base = { PATH: '/bin', MOE_LENS_MAX_MEMORY_MB: '99' };
    assert.deepEqual(engineEnv(base, 3072), { PATH: '/bin', MOE_LENS_MAX_MEMORY_MB: '3072', ELECTRON_RUN_AS_NODE: '1' });
    assert.deepEqual(engineEnv(base, 0), { PATH: '/bin', ELECTRON_RUN_AS_NODE: '1' });
  });
});
