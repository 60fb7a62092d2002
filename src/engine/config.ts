/**
 * @file Reading config.json: typed access with transformers' defaults and errors that name
 * config.json and the key. Values that would only show up later as NaN routing (a negative
 * rms_norm_eps, rope_theta 0, a YaRN factor of 0) are refused here, before any weight is read.
 */
import { parseRopeScaling, ropeInvFreq, type RopeSpec } from './ops';

/** Typed access to config.json: a key without a default is required; wrong types are named. */
export class ConfigReader {
  constructor(
    readonly json: Record<string, unknown>,
    readonly modelType: string,
  ) {}

  fail(key: string, what: string): never {
    throw new Error(`config.json (${this.modelType}): '${key}' ${what}`);
  }

  private raw(key: string): unknown {
    const v = this.json[key];
    return typeof v === 'bigint' ? Number(v) : v;
  }

  has(key: string): boolean {
    return this.json[key] !== undefined && this.json[key] !== null;
  }

  num(key: string, dflt?: number): number {
    const v = this.raw(key) ?? dflt;
    if (v === undefined) {
      this.fail(key, 'is required but missing');
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      this.fail(key, `must be a finite number, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  /** A number > 0: epsilons, bases and factors where 0 or a negative value makes the maths NaN. */
  positive(key: string, dflt?: number): number {
    const v = this.num(key, dflt);
    if (!(v > 0)) {
      this.fail(key, `must be a positive number, got ${v}`);
    }
    return v;
  }

  /** A positive integer within a sanity bound (catches absurd configs before allocating anything). */
  int(key: string, dflt?: number, { min = 1, max = 1 << 24 }: { min?: number; max?: number } = {}): number {
    const v = this.num(key, dflt);
    if (!Number.isInteger(v) || v < min || v > max) {
      this.fail(key, `must be an integer in ${min}..${max}, got ${v}`);
    }
    return v;
  }

  optInt(key: string, dflt: number | null = null): number | null {
    return this.has(key) ? this.int(key) : dflt;
  }

  bool(key: string, dflt: boolean): boolean {
    const v = this.raw(key) ?? dflt;
    if (typeof v !== 'boolean') {
      this.fail(key, `must be true or false, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  /**
   * The attention head size: `head_dim` when the family reads one and it is set, else
   * hidden_size / num_attention_heads, which must divide evenly. (transformers floors the division;
   * refusing names the likely typo instead of a tensor whose shape then disagrees.)
   */
  headDim(hiddenSize: number, numHeads: number, readsHeadDim: boolean): number {
    if (readsHeadDim && this.has('head_dim')) {
      return this.int('head_dim');
    }
    if (hiddenSize % numHeads !== 0) {
      this.fail('num_attention_heads', `(${numHeads}) does not divide 'hidden_size' (${hiddenSize})${readsHeadDim ? " and no 'head_dim' is given" : ''}`);
    }
    return hiddenSize / numHeads;
  }

  intList(key: string, dflt: number[]): number[] {
    const v = this.raw(key) ?? dflt;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' && typeof x !== 'bigint')) {
      this.fail(key, `must be a list of integers, got ${JSON.stringify(v)}`);
    }
    return (v as (number | bigint)[]).map(Number);
  }

  /**
   * `rope_theta` and `rope_scaling` on `dim` rotary dims. `scalingDefault` is used when config.json
   * has no rope_scaling key at all (gpt-oss's YaRN). The frequencies are computed once here, so a
   * combination that makes them non-finite is an error naming the keys, not NaN attention later.
   */
  rope(dim: number, maxPositions: number, thetaDefault: number, scalingDefault?: unknown): RopeSpec {
    const theta = this.positive('rope_theta', thetaDefault);
    const raw = 'rope_scaling' in this.json ? this.json.rope_scaling : scalingDefault;
    let spec: RopeSpec;
    try {
      spec = { theta, dim, maxPositions, scaling: parseRopeScaling(raw, maxPositions) };
    } catch (e) {
      // parseRopeScaling names config.json and the key; add which family read it.
      throw new Error((e as Error).message.replace('config.json:', `config.json (${this.modelType}):`));
    }
    const { invFreq, attentionScaling } = ropeInvFreq(spec);
    if (!Number.isFinite(attentionScaling) || invFreq.some((f) => !Number.isFinite(f))) {
      this.fail('rope_scaling', `with 'rope_theta' ${theta} gives non-finite rotary frequencies (${JSON.stringify(raw)})`);
    }
    return spec;
  }
}
