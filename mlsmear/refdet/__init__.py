"""Card-driven particle-level reference detector (Delphes style): the teacher for mlsmear.

``Detector.from_card("atlas-like").run(particles, seed, hadrons=hadrons)`` turns stable generator
particles into reconstructed jets, electrons, muons, photons and missing ET. See
``docs/reference-detector.md``.
"""

from ..physics.collection import Collection
from .card import Card, CardError, load_card, shipped_cards
from .pipeline import HADRON_FIELDS, PARTICLE_FIELDS, Detector

__all__ = [
    "HADRON_FIELDS",
    "PARTICLE_FIELDS",
    "Card",
    "CardError",
    "Collection",
    "Detector",
    "load_card",
    "shipped_cards",
]
