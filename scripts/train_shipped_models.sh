#!/usr/bin/env bash
# Retrain the two shipped models from scratch, exactly as models/README.md describes:
# the fast single CNN (live video) and the accurate three-CNN ensemble (photos, CLI, library).
# About 3 hours on a 2-core CPU with AMX; each run resumes where it stopped if you start this again.
#   bash scripts/train_shipped_models.sh [PATH_TO_FER2013]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-../shared/data/fer2013}"
PY="${PYTHON:-python}"

train() {  # name, extra options...
  local name="$1" output="$2"; shift 2
  if [[ -f "$output" ]]; then echo "$output exists, skipping"; return; fi
  if [[ -f "runs/$name/state.json" ]]; then
    "$PY" -m training.train --resume --data "$DATA" --run-dir "runs/$name"
  else
    "$PY" -m training.train --data "$DATA" --name "$name" --output "$output" "$@"
  fi
}

train fer2013_vgg32 models/fer2013_vgg32.keras --epochs 50
train fer2013_vgg32_s1 runs/members/fer2013_vgg32_s1.keras --epochs 40 --seed 1
train fer2013_vgg32_s2 runs/members/fer2013_vgg32_s2.keras --epochs 30 --seed 2 --erase 0.25 --dropout 0.3
"$PY" -m training.ensemble --data "$DATA" --output models/fer2013_ensemble.keras \
  --members models/fer2013_vgg32.keras runs/members/fer2013_vgg32_s1.keras runs/members/fer2013_vgg32_s2.keras
