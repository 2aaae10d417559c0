#!/bin/bash
# Same-seed outputs of one snekner checkout, for a refactor that must change no behaviour (issue 24):
#   benchmarks/same_seed/run.sh REPO OUT      (REPO: a checkout, e.g. a git worktree of the commit before; ~4 min)
# writes OUT/digest.txt: sha256 of the prepared data and of every trained model's weights (train, a resumed Ctrl-C,
# a group of seeds, adapt), the metrics lines, the eval JSON (without timings, paths and the format's own keys),
# compare, predict and the interrupt and NaN messages. Compare two checkouts: diff OUT1/digest.txt OUT2/digest.txt
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${SNEKNER_PYTHON:-$HERE/../../.venv/bin/python}
REPO=$(cd "$1" && pwd); OUT=$2
rm -rf "$OUT"; mkdir -p "$OUT"; cd "$OUT"
export PYTHONPATH=$REPO TF_CPP_MIN_LOG_LEVEL=3 SNEKNER_NO_PROGRESS=1
S="$PY -m snekner"
MODEL=$($PY -c "from snekner.demo import packaged_minilm; print(packaged_minilm())")
$S prep --dataset snekner:sample --lang en --tagset a --model "$MODEL" --max-length 64 --limit 600 --out data-a > prep-a.log 2>&1
$S prep --dataset snekner:sample --lang en --tagset b --model "$MODEL" --max-length 64 --limit 600 --out data-b > prep-b.log 2>&1
$S train data-a --name A --runs-dir runs --epochs 3 --batch-size 16 --learning-rate 2e-4 --seed 3 > train-a.log 2>&1
$S train data-b --name B --runs-dir runs --epochs 2 --batch-size 16 --learning-rate 2e-4 --seed 3 > train-b.log 2>&1
$S train data-b --name G --runs-dir runs --epochs 1 --batch-size 16 --seeds 1,2 --batching bucketed --class-weights sqrt-inverse > train-g.log 2>&1
SNEKNER_FAULT=INT@4 $S train data-a --name I --runs-dir runs --epochs 1 --batch-size 16 --seed 5 > train-i.log 2>&1 || echo "interrupted rc=$?" >> train-i.log
$S train data-a --name I --runs-dir runs --epochs 1 --resume > train-i-resume.log 2>&1
$S train data-a --name N --runs-dir runs --epochs 1 --batch-size 16 --learning-rate 1e30 --seed 5 > train-n.log 2>&1 || echo "nan rc=$?" >> train-n.log
$S adapt --text snekner:sample --model "$MODEL" --out adapted --epochs 1 --limit 120 --batch-size 16 --split train --lang en > adapt.log 2>&1
$S eval A --runs-dir runs --split test > eval-a.log 2>&1
$S eval B --runs-dir runs --split test > eval-b.log 2>&1
$S eval G --runs-dir runs --split test > eval-g.log 2>&1
$S eval I --runs-dir runs --split test > eval-i.log 2>&1
$S compare A B --runs-dir runs --bootstrap 200 --format json > compare.log 2>&1
printf 'Dr. Smith went to Paris with Angela Merkel.\nThe Nile flows through Egypt.\n' > text.txt
$S predict A --runs-dir runs --input text.txt > predict.log 2>&1
$S predict A --runs-dir runs --input text.txt --format jsonl > predict.jsonl 2>&1 || true
SNEKNER_PYTHON=$PY bash "$HERE/digest.sh" "$OUT"
echo done "$OUT"
