#!/usr/bin/env bash
# Reproduces models/demo from scratch on a 2-core CPU machine (about 1.5 hours of training).
#   bash tools/train-demo/train.sh
# Needs: apt-get install python3-torch python3.11-doc bible-kjv; pyenv/other python3 with numpy + regex
# (for prepare.py); node_modules (TypeScript's lib.*.d.ts, @anush008/tokenizers, tsx).
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
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1   # one core per model; OpenBLAS spin-waits otherwise

$TORCHPY tools/train-demo/check_hf.py   # model.py == transformers' Qwen2MoeForCausalLM (fixture made by transformers)
$PY tools/train-demo/prepare.py
$PY tools/bpe/dump_ids.py models/demo/tokenizer.json tools/train-demo/work/corpus.jsonl tools/train-demo/work/heldout_ids.json
node tools/bpe/verify.mjs models/demo/tokenizer.json tools/train-demo/work/heldout_ids.json
rm -f tools/train-demo/work/moe.log tools/train-demo/work/dense.log
# MoE and dense twin train side by side on identical batches, one thread each.
$TORCHPY tools/train-demo/train.py --variant moe --steps "$STEPS" --decay-start "$DECAY_START" &
P1=$!
$TORCHPY tools/train-demo/train.py --variant dense --steps "$STEPS" --decay-start "$DECAY_START" &
P2=$!
wait $P1 $P2
$TORCHPY tools/train-demo/train.py --variant moe --resume --lr "$LR2" --steps "$STEPS2" --decay-start "$STEPS" &
P1=$!
$TORCHPY tools/train-demo/train.py --variant dense --resume --lr "$LR2" --steps "$STEPS2" --decay-start "$STEPS" &
P2=$!
wait $P1 $P2
$TORCHPY tools/train-demo/train.py --variant moe --resume --lr "$LR3" --steps "$STEPS3" --decay-start "$DECAY3" &
P1=$!
$TORCHPY tools/train-demo/train.py --variant dense --resume --lr "$LR3" --steps "$STEPS3" --decay-start "$DECAY3" &
P2=$!
wait $P1 $P2
$TORCHPY tools/train-demo/export.py
$TORCHPY tools/train-demo/fixture.py
npx tsx tools/demo-stats.ts --out tools/train-demo/work/stats --svg models/demo/expert_load.svg
$PY tools/train-demo/card.py
du -b models/demo
