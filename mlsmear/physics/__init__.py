"""The physics layer at the bottom of the package: event collections, kinematics, jet
clustering, flavour labels, isolation cone sums, transverse sums, the truth definitions and
truth-reco matching. Generation, the reference detector, the readers, coffea, the filter and
validation all import it, not each other's copies.

- :mod:`~mlsmear.physics.collection`: :class:`Collection`, flat columns with event offsets;
- :mod:`~mlsmear.physics.kinematics`: ΔR, φ wrapping, Cartesian momenta;
- :mod:`~mlsmear.physics.jets`: FastJet clustering of whole batches;
- :mod:`~mlsmear.physics.flavour`: hadron flavour of jets;
- :mod:`~mlsmear.physics.isolation`: cone sums;
- :mod:`~mlsmear.physics.met`: transverse sums;
- :mod:`~mlsmear.physics.truth`: GenJets, prompt e/μ/γ, GenMET and their derived inputs;
- :mod:`~mlsmear.physics.matching`: truth-reco matching into pairs tables.
"""
