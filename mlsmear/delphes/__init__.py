"""Real Delphes as a teacher: build it against the ROOT wheel, run it on generated events.

- :mod:`~mlsmear.delphes.build`: ``mlsmear delphes build`` (source -> user cache directory);
- :mod:`~mlsmear.delphes.locate`: find a complete build, ``mlsmear delphes info``;
- :mod:`~mlsmear.delphes.cards`: the shipped cards ``delphes-atlas`` / ``delphes-cms``;
- :mod:`~mlsmear.delphes.run`: HepMC3 events -> ``DelphesHepMC3`` -> reco collections.
"""
