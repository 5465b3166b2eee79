"""Validation of a learnt detector against hold-out truth↔reco pairs (DESIGN.md section 6).

``validate(model, holdout, output)`` samples the learnt reco of every hold-out truth object,
compares it with the reference reco of the pairs and writes ``metrics.json`` (per kind: ``auc``,
``worst_bin_dev``, ``max_eff_diff``, ``max_res_rel_diff``, ``max_corr_diff``, ``w1``; MET also
``tail250_ratio``; each with its uncertainty, the noise floor and optionally the paper's
baseline), ``report.html`` and PNG figures.

Comparisons are unweighted (a pairs ``weight`` column is not applied): both reco sets are of the
same truth objects, so weights cancel from the agreement test and would only change which region
of phase space dominates it.

Modules, one job each: :mod:`.sampling` (hold-out → reco sets), :mod:`.metrics` (pure metric
functions), :mod:`.observables` (binning and filled histograms), :mod:`.summary` (metrics of one
kind, the bars), :mod:`.plots`, :mod:`.report`, :mod:`.baseline` (the paper's baseline),
:mod:`.provenance` (hold-out independence), :mod:`.runner` (``validate``).

Example:
    >>> from mlsmear.validation import validate                       # doctest: +SKIP
    >>> metrics = validate("atlas-like", "pairs/znunu-holdout", "validation/znunu")
"""

from .runner import validate
from .summary import BARS, SELECTION

__all__ = ["validate", "BARS", "SELECTION"]
