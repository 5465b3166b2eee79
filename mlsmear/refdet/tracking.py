"""Track momentum and direction smearing (Delphes ``MomentumSmearing`` plus angular terms)."""

from __future__ import annotations

from typing import ClassVar

from ..physics.collection import Collection
from ..physics.kinematics import wrap_phi
from .formula import Formula
from .random_draws import lognormal
from .stage import Param, RunContext, Stage, formula

__all__ = ["MomentumSmearing"]


class MomentumSmearing(Stage):
    """Smear pT log-normally with sigma(pT)/pT from the card, eta and phi with Gaussians.

    Adds the column ``resolution`` (the relative pT resolution used), which the calorimeter
    needs to combine track and tower energies.
    """

    PARAMS: ClassVar[dict[str, Param]] = {
        "resolution": formula("relative resolution sigma(pT)/pT", ("pt", "eta")),
        "eta_resolution": formula("absolute resolution sigma(eta)", ("pt", "eta")),
        "phi_resolution": formula("absolute resolution sigma(phi) in rad", ("pt", "eta")),
    }
    resolution: Formula
    eta_resolution: Formula
    phi_resolution: Formula

    def run(self, inputs: list[Collection], ctx: RunContext) -> list[Collection]:
        (tracks,) = inputs
        pt, eta, phi = tracks["pt"], tracks["eta"], tracks["phi"]
        relative = self.resolution(pt=pt, eta=eta)
        sigma_eta = self.eta_resolution(pt=pt, eta=eta)
        sigma_phi = self.phi_resolution(pt=pt, eta=eta)
        normal = ctx.rng.standard_normal((2, len(tracks)))
        smeared = tracks.with_columns(
            pt=lognormal(ctx.rng, pt, relative * pt),
            eta=eta + sigma_eta * normal[0],
            phi=wrap_phi(phi + sigma_phi * normal[1]),
            resolution=relative,
        )
        return [smeared]
