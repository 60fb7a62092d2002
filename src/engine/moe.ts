/**
 * @file The expert-gathered MoE feed-forward: each expert runs only on the tokens routed to it
 * (gather → expert MLP → weight → scatter-add), never every token through every expert.
 *
 * The expert MLP is a callback, so families with other expert shapes (gpt-oss's clamped, interleaved
 * SwiGLU with biases) plug in their own. Call inside `tf.tidy`.
 */
import { tf } from './backend';
import { linear, swiglu, type Linear } from './ops';

/** One expert applied to the rows routed to it: x [n, D] → [n, D]. */
export type ExpertMlp = (expert: number, x: tf.Tensor2D) => tf.Tensor2D;

/** A SwiGLU MLP with gate and up fused: down(silu(x·Wg) ⊙ x·Wu). */
export interface SwigluWeights {
  gateUp: Linear; // [D, 2I]: first I columns gate, last I up
  down: Linear; // [I, D]
}

export function swigluMlp(w: SwigluWeights, x: tf.Tensor2D): tf.Tensor2D {
  return linear(swiglu(linear(x, w.gateUp)), w.down); // [n, D]
}

/** The standard expert: SwiGLU with the expert's own weights. */
export function swigluExperts(experts: SwigluWeights[]): ExpertMlp {
  return (e, x) => swigluMlp(experts[e], x);
}

/** A routed expert's tokens and the gate weight of each. */
export interface ExpertSlot {
  tokens: number[];
  weights: number[];
}

/** Tokens grouped per expert on the host from the routing already read back; experts ascending. */
export function routedSlots(experts: number[][], weights: number[][]): Map<number, ExpertSlot> {
  const byExpert = new Map<number, ExpertSlot>();
  experts.forEach((row, t) =>
    row.forEach((e, j) => {
      const slot = byExpert.get(e) ?? { tokens: [], weights: [] };
      slot.tokens.push(t);
      slot.weights.push(weights[t][j]);
      byExpert.set(e, slot);
    }),
  );
  return new Map([...byExpert.entries()].sort((a, b) => a[0] - b[0]));
}

/** One expert on its tokens, times their gate weights: [n, D]. */
export function expertUpdate(x: tf.Tensor2D, e: number, slot: ExpertSlot, mlp: ExpertMlp): tf.Tensor2D {
  const xe = tf.gather(x, slot.tokens); // [n, D]
  const ye = mlp(e, xe); // [n, D]
  return tf.mul(ye, tf.tensor2d(slot.weights, [slot.weights.length, 1])); // [n, D]
}

/** The experts' updates, in `routedSlots` order, summed into [T, D] rows (a token's k updates added). */
export function scatterUpdates(T: number, D: number, slots: Map<number, ExpertSlot>, updates: tf.Tensor2D[]): tf.Tensor2D {
  if (updates.length === 0) {
    return tf.zeros([T, D]);
  }
  const indices = [...slots.values()].flatMap((s) => s.tokens);
  const idx = tf.tensor2d(indices, [indices.length, 1], 'int32'); // [N, 1]
  return tf.scatterND(idx, tf.concat(updates, 0), [T, D]) as tf.Tensor2D; // duplicates summed
}

/**
 * Σ_j w[t][j] · E_{experts[t][j]}(x_t) for every token: x [T, D] → [T, D], with every expert's
 * weights at hand (the forward pass does the same a group of experts at a time).
 */
export function expertFfn(x: tf.Tensor2D, experts: number[][], weights: number[][], mlp: ExpertMlp): tf.Tensor2D {
  const [T, D] = x.shape;
  const slots = routedSlots(experts, weights);
  const updates = [...slots.entries()].map(([e, slot]) => expertUpdate(x, e, slot, mlp));
  return scatterUpdates(T, D, slots, updates);
}
