"""Event generation for the teacher: Pythia 8 / particle guns -> truth objects -> reference
detector -> truth <-> reco pairs (``mlsmear generate``).

Pythia (``pythia8mc``) and fastjet are optional: ``pip install "mlsmear[generate]"``. This package
imports without them; they are imported when first needed.
"""
