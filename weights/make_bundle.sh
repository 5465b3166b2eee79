#!/usr/bin/env bash
# Rebuild a shipped bundle from scratch and record its validation figures (per-object and the
# analysis closure) in the model cards. Samples are cached in cache/pairs/NAME (git ignores cache/).
#
#   weights/make_bundle.sh atlas-like      # the reference detector (about 2 h on 2 cores)
#   weights/make_bundle.sh delphes-cms     # real Delphes, CMS card (mlsmear delphes build first; ~2 h)
#   weights/make_bundle.sh delphes-atlas   # real Delphes, ATLAS card
#
# Seeds: training samples 1 (mix), 20 and 23 (the mixes the leptons and photons train on), 5 (lepton-rich), 6-9, 15,
# 16, 19, 21 (lepton guns; 19 and 21 the 5-20 GeV threshold guns); hold-outs 2 (mix), 11 (ttbar),
# 12 and 22 (Z+jets; 22: 30 000 events, decisive at the dilepton Z), 13 (QCD), 14 (W+jets),
# 4 (diboson, a process outside the training mix), 17 and 18 (e and mu guns: decisive lepton
# efficiencies);
# training 0; validation sampling 1. STAGE=gen|train|validate runs one stage only; JET_EPOCHS and
# LEP_EPOCHS set the jet and the e/μ/γ models' epochs (defaults 30 and 60; delphes-cms shipped
# with 40 and 60 (its jets at 24 epochs had their best epoch at 23), delphes-atlas with 24 and
# 60). Delphes guns run 10 000 events per job (one Delphes start-up each).
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: weights/make_bundle.sh atlas-like|delphes-cms|delphes-atlas}
case $name in
  atlas-like) detector=(--detector refdet --card atlas-like); gun_job_size=1000; jet_context=""
    met_context="" ;;
  delphes-cms|delphes-atlas)  # Delphes' UniqueObjectFinder removes the jets of isolated e/γ/μ
    detector=(--detector delphes --card "$name"); gun_job_size=10000
    jet_context="--jets-with-objects"; met_context="--met-with-objects" ;;
  *) echo "unknown bundle '$name': atlas-like, delphes-cms or delphes-atlas" >&2; exit 2 ;;
esac
stage=${STAGE:-all}
pairs=cache/pairs/$name
out=cache/validation/$name
bundle=weights/$name
gen() { [ -f "$pairs/$1/meta.json" ] || mlsmear generate "${detector[@]}" --output "$pairs/$1" --workers 2 --no-progress "${@:2}"; }
gun() { gen "$@" --job-size $gun_job_size; }

if [[ $stage == all || $stage == gen ]]; then
  gen mix-train --process mix --events 300000 --seed 1
  gen mix-e-train --process mix --events 100000 --seed 20
  gen mix-e-train2 --process mix --events 100000 --seed 23
  gen leptons-train --process leptons --events 60000 --seed 5
  gun gun-e-lo --process gun-e --events 80000 --seed 6 --pt-range 10 100 --eta-range -3 3
  gun gun-e-hi --process gun-e --events 70000 --seed 7 --pt-range 100 1000 --eta-range -3 3
  gun gun-mu-lo --process gun-mu --events 80000 --seed 8 --pt-range 10 100 --eta-range -3 3
  gun gun-mu-hi --process gun-mu --events 70000 --seed 9 --pt-range 100 1000 --eta-range -3 3
  gun gun-e-lo2 --process gun-e --events 60000 --seed 15 --pt-range 10 100 --eta-range -3 3
  gun gun-mu-lo2 --process gun-mu --events 60000 --seed 16 --pt-range 10 100 --eta-range -3 3
  # threshold guns: the turn-on at pt_min 10 GeV (with guns from 10 GeV only, barrel electrons
  # at 10.5-11 GeV came out 0.67 efficient for the teacher's 0.85, muons 0.80 for 0.96)
  gun gun-e-thr --process gun-e --events 60000 --seed 19 --pt-range 5 20 --eta-range -3 3
  gun gun-mu-thr --process gun-mu --events 60000 --seed 21 --pt-range 5 20 --eta-range -3 3
  gen mix-holdout --process mix --events 20000 --seed 2
  gen ttbar-holdout --process ttbar --events 10000 --seed 11
  gen zjets-holdout --process zjets --events 10000 --seed 12
  gen zjets2-holdout --process zjets --events 30000 --seed 22
  gen qcd-holdout --process qcd --events 10000 --seed 13
  gen wjets-holdout --process wjets --events 6000 --seed 14
  gen diboson-holdout --process diboson --events 6000 --seed 4
  gun gun-e-holdout --process gun-e --events 100000 --seed 17 --pt-range 10 100 --eta-range -3 3
  gun gun-mu-holdout --process gun-mu --events 100000 --seed 18 --pt-range 10 100 --eta-range -3 3
  # pairs cached before the second jet-matching pass get it (a no-op for newer ones)
  mlsmear rematch "$pairs"/*/
fi

if [[ $stage == all || $stage == train ]]; then
  train="mlsmear train --output $bundle --seed 0 --no-progress"  # float32, onnxruntime (defaults)
  # leptons and photons first (em_iso, muon_iso among their inputs), 60 epochs: at 20 the best
  # epoch was the last one and non-isolated muons came out 0.42 efficient for the teacher's 0.03
  # electrons follow their sampled siblings (close e+e- of a boosted Z: both or neither); e and mu
  # train on mix-e-train (100 k mix events), the delphes-cms leptons were retrained with dressing
  # and the GenJets beside them (nb_jet_dr, nb_jet_ratio) on it, without waiting 90 min for mix-train
  # electrons without the truth acceptance: with it (seeds 0 and 1, plain loss) Z+jets electrons
  # came out 0.014 low in both. The shipped electrons predate the efficiency-weighted loss and the
  # cool-down (the defaults since stop 32): with them isolated Z+jets electrons above 25 GeV
  # are 0.004 (seed 0) and 0.002 (seed 1) low for the plain loss's 0.009 and 0.017, but seed 0's
  # dilepton Z closure 0.007-0.015 lower (docs/whole-events.md); this line trains with them
  $train --pairs $pairs/mix-e-train $pairs/leptons-train $pairs/gun-e-lo $pairs/gun-e-hi $pairs/gun-e-lo2 $pairs/gun-e-thr --kind electron --epochs "${LEP_EPOCHS:-60}" --patience 8 --follow-siblings --no-truth-acceptance
  $train --pairs $pairs/mix-e-train $pairs/leptons-train $pairs/gun-mu-lo $pairs/gun-mu-hi $pairs/gun-mu-lo2 $pairs/gun-mu-thr --kind muon --epochs "${LEP_EPOCHS:-60}" --patience 8
  # photons on all three mixes (~139 k rows) with the truth acceptance: W+jets' photon + jet
  # selection 0.919 of Delphes before (mix-train alone, no acceptance), 0.969 with these
  $train --pairs $pairs/mix-train $pairs/mix-e-train $pairs/mix-e-train2 $pairs/leptons-train --kind photon --epochs "${LEP_EPOCHS:-60}" --patience 8
  # photons from the electrons the electron model lost (their track lost, their shower kept);
  # ~125 k rows: batches of 1024 (at 4096 the efficiency came out 10 % low, 0.247 for 0.274)
  $train --pairs $pairs/mix-train $pairs/leptons-train $pairs/gun-e-lo $pairs/gun-e-hi $pairs/gun-e-lo2 --kind photon_from_electron --epochs "${LEP_EPOCHS:-60}" --patience 8 --batch-size 1024
  # jets follow the sampled e/γ/μ (overlap removal, docs/whole-events.md) and carry the b-tag
  $train --pairs $pairs/mix-train --kind jet --epochs "${JET_EPOCHS:-30}" --patience 6 $jet_context
  # Delphes: MET around GenMET + the recoil of the sampled jets and muons; atlas-like around
  # GenMET (HT, N_jet): docs/whole-events.md says why
  $train --pairs $pairs/mix-train $pairs/leptons-train --kind met --epochs 20 --patience 4 $met_context
fi

if [[ $stage == all || $stage == validate ]]; then
  validate="mlsmear validate --model $bundle --no-progress --auc-objects 100000"
  for holdout in mix ttbar zjets zjets2 qcd wjets diboson gun-e gun-mu; do
    $validate --pairs $pairs/$holdout-holdout --output $out/$holdout --record-in-cards $holdout-holdout
  done
fi
