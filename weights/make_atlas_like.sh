#!/usr/bin/env bash
# Rebuild the shipped `atlas-like` bundle from scratch (about 1 h on 2 cores; samples cached in
# cache/, which git ignores). Seeds: training sample 1, hold-out 2, Z->nunu hold-out 3, training 0.
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=cache/pairs
[ -f $pairs/mix-train/meta.json ] || mlsmear generate --process mix --events 300000 --seed 1 --output $pairs/mix-train --workers 2
[ -f $pairs/mix-holdout/meta.json ] || mlsmear generate --process mix --events 40000 --seed 2 --output $pairs/mix-holdout --workers 2
[ -f $pairs/zvv-holdout/meta.json ] || mlsmear generate --process zvv --events 15000 --seed 3 --output $pairs/zvv-holdout --workers 2
for kind in jet electron muon photon met; do
  mlsmear train --pairs $pairs/mix-train --kind "$kind" --output weights/atlas-like --seed 0 --no-progress
done
