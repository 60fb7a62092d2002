#!/usr/bin/env bash
# Reproduces models/demo (second edition) from scratch on a 2-core CPU machine: phases 1-3 train the first
# edition on its corpus (prepare.py: TS declarations, Python stdlib + docs, KJV) and its tokenizer; phase 4 continues
# on the second-edition corpus (corpus2.py: what users open) with the same tokenizer. See MODEL_CARD.md for times.
#   bash tools/train-demo/train.sh
# Needs: apt-get install python3-torch python3.11-doc bible-kjv nodejs-doc debian-handbook fortunes fortunes-min
# (nodejs-doc conflicts with NodeSource's nodejs package, and apt REMOVES that node to install it: on such a
# machine unpack it instead, `apt-get download nodejs-doc && dpkg-deb -x nodejs-doc_*.deb /`),
# a python3 with numpy + regex (prepare.py, corpus2.py); node_modules
# (TypeScript's lib.*.d.ts, the npm packages corpus2.py reads, @anush008/tokenizers, tsx).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-python3}            # needs numpy + regex
TORCHPY=${TORCHPY:-/usr/bin/python3}   # Debian's python3-torch 1.13
# Phase 1: peak LR 3e-3, constant to step 525, linear decay to 10% at 650. Phase 2: resumed at 650,
# LR back to 1.5e-3 and linear decay to 10% at 1100. Phase 3: resumed at 1100, LR back to 1e-3, constant
# to DECAY3, linear decay to 10% at STEPS3. (Chosen while the shipped run went, as the shared machine's
# speed became known; LR depends only on the step, so this reproduces it.)
STEPS=${STEPS:-650}
DECAY_START=${DECAY_START:-525}
STEPS2=${STEPS2:-1100}
LR2=${LR2:-0.0015}
DECAY3=${DECAY3:-1400}
STEPS3=${STEPS3:-1560}
LR3=${LR3:-0.001}
# Phase 4 (second edition): LR 1.5e-3 after 20 warmup steps, constant to DECAY4, linear decay to 10% at STEPS4;
# load-balancing loss 0.005 (half the first edition's, so the router may specialise more), balanced within each
# batch until step BAL4 and from there over the last WINDOW4 steps' batches ("global-batch" balancing, train.py
# --balance-window). The shipped run was launched with a constant LR, resumed at step 850 with the pooled balance,
# and stopped and resumed twice more as the session's time became known (see MODEL_CARD.md); the LR depends only on
# the step and batch s only on s, and the balance window is saved with the checkpoint, so these two commands compute
# the same thing.
STEPS4=${STEPS4:-2200}
DECAY4=${DECAY4:-1900}
LR4=${LR4:-0.0015}
AUX4=${AUX4:-0.005}
BAL4=${BAL4:-850}
WINDOW4=${WINDOW4:-32}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1   # one core per model; OpenBLAS spin-waits otherwise

$TORCHPY tools/train-demo/check_hf.py   # model.py == transformers' Qwen2MoeForCausalLM (fixture made by transformers)
$PY tools/train-demo/prepare.py
$PY tools/bpe/dump_ids.py models/demo/tokenizer.json tools/train-demo/work/corpus.jsonl tools/train-demo/work/heldout_ids.json
node tools/bpe/verify.mjs models/demo/tokenizer.json tools/train-demo/work/heldout_ids.json
rm -f tools/train-demo/work/moe.log tools/train-demo/work/dense.log
# Phases 1-3: the first edition's MoE (its dense twin is no longer trained: phase 4's twin starts from the MoE's
# trunk, see densify.py).
$TORCHPY tools/train-demo/train.py --variant moe --steps "$STEPS" --decay-start "$DECAY_START"
$TORCHPY tools/train-demo/train.py --variant moe --resume --lr "$LR2" --steps "$STEPS2" --decay-start "$STEPS"
$TORCHPY tools/train-demo/train.py --variant moe --resume --lr "$LR3" --steps "$STEPS3" --decay-start "$DECAY3"
$TORCHPY tools/train-demo/export.py --no-eval --to tools/train-demo/work/moe-v1.safetensors
# Phase 4: the second-edition corpus; the MoE starts from the first edition's bf16 weights, its dense twin from
# the same weights with the MLPs made dense (densify.py); fresh AdamW, identical batches, one thread each.
$PY tools/train-demo/corpus2.py
rm -f tools/train-demo/work/v2/moe.log tools/train-demo/work/v2/dense.log tools/train-demo/work/v2/*.pt
$TORCHPY tools/train-demo/densify.py tools/train-demo/work/moe-v1.safetensors tools/train-demo/work/v2/dense-init.safetensors
for phase in a b; do
  if [ $phase = a ]; then  # to step BAL4: balanced within each batch, LR constant
    common=(--corpus v2 --lr "$LR4" --aux "$AUX4" --steps "$BAL4" --decay-start "$BAL4" --eval-every 500 --keep-every 0)
    moe_init=(--init-from tools/train-demo/work/moe-v1.safetensors)
    dense_init=(--init-from tools/train-demo/work/v2/dense-init.safetensors)
  else  # from BAL4 to STEPS4: the balance pooled over WINDOW4 steps, decay from DECAY4
    common=(--corpus v2 --resume --lr "$LR4" --aux "$AUX4" --balance-window "$WINDOW4" --steps "$STEPS4" --decay-start "$DECAY4" --eval-every 250 --keep-every 0)
    moe_init=()
    dense_init=()
  fi
  $TORCHPY tools/train-demo/train.py --variant moe "${moe_init[@]}" "${common[@]}" &
  P1=$!
  $TORCHPY tools/train-demo/train.py --variant dense "${dense_init[@]}" "${common[@]}" &
  P2=$!
  wait $P1 $P2
done
$TORCHPY tools/train-demo/export.py --corpus v2
$TORCHPY tools/train-demo/fixture.py
npx tsx tools/demo-stats.ts --out tools/train-demo/work/v2/stats --svg models/demo/expert_load.svg
# The first edition's routing on the same held-out text, for the card's comparison. (Its "previous" column, the model
# replaced, was made by hand: `export.py --corpus v2 --only previous --previous OLD/model.safetensors` and
# `npx tsx tools/demo-stats.ts --model OLD --out tools/train-demo/work/v2/stats-previous`, OLD = that model's folder.)
V1=tools/train-demo/work/v1-model
mkdir -p $V1 && cp models/demo/config.json models/demo/tokenizer.json models/demo/tokenizer_config.json $V1/
cp tools/train-demo/work/moe-v1.safetensors $V1/model.safetensors
npx tsx tools/demo-stats.ts --model $V1 --out tools/train-demo/work/v2/stats-first_edition
$PY tools/train-demo/card.py
du -b models/demo
