#!/usr/bin/env bash
# Rebuild the shipped `atlas-like` bundle from scratch and record its validation figures in the
# model cards (about 1 h on 2 cores; samples cached in cache/, which git ignores).
# Seeds: training sample 1, hold-outs 2 (mix), 3 (Z->nunu), 4 (diboson, a process outside the
# training mix); training 0; validation sampling 1.
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=cache/pairs
out=cache/validation
[ -f $pairs/mix-train/meta.json ] || mlsmear generate --process mix --events 300000 --seed 1 --output $pairs/mix-train --workers 2
[ -f $pairs/mix-holdout/meta.json ] || mlsmear generate --process mix --events 40000 --seed 2 --output $pairs/mix-holdout --workers 2
[ -f $pairs/zvv-holdout/meta.json ] || mlsmear generate --process zvv --events 15000 --seed 3 --output $pairs/zvv-holdout --workers 2
[ -f $pairs/diboson-holdout/meta.json ] || mlsmear generate --process diboson --events 20000 --seed 4 --output $pairs/diboson-holdout --workers 2
for kind in jet electron muon photon met; do
  settings="--epochs 20 --patience 4"; [ "$kind" = jet ] && settings="--epochs 40 --patience 6"
  mlsmear train --pairs $pairs/mix-train --kind "$kind" --output weights/atlas-like --seed 0 $settings --precision bfloat16 --no-progress
done
validate="mlsmear validate --model weights/atlas-like --no-progress"
$validate --pairs $pairs/mix-holdout --output $out/mix-jets --kinds jet --auc-objects 200000 --train-baseline --baseline-epochs 10 --record-in-cards mix-holdout
$validate --pairs $pairs/mix-holdout --output $out/mix-leptons --kinds electron muon photon --train-baseline --baseline-epochs 10 --record-in-cards mix-holdout
$validate --pairs $pairs/mix-holdout --output $out/mix-met --kinds met --train-baseline --baseline-epochs 10 --record-in-cards mix-holdout
$validate --pairs $pairs/diboson-holdout --output $out/diboson --auc-objects 100000 --record-in-cards diboson-holdout
$validate --pairs $pairs/zvv-holdout --output $out/zvv --auc-objects 100000 --record-in-cards zvv-holdout
