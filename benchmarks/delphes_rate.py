"""Real Delphes' time per event on Pythia ttbar events; prints JSON.

:func:`delphes_ms_per_event` generates ``n_events`` Pythia 8 ttbar events (13 TeV, Pythia seed
``seed``: the events of ``run_all.refdet_speedup`` for the same seed and count), writes them as
HepMC3 (not timed) and runs ``DelphesHepMC3`` with a card once on all of them and once on the first
event alone. Keys:

- ``delphes_ms_per_event``: wall time of the Delphes process per event, reading its HepMC input
  and writing its ROOT output included, start-up excluded: (wall(N) - wall(1)) / (N - 1);
- ``delphes_wall_ms_per_event_with_startup``: wall(N) / N;
- ``delphes_proctime_ms_per_event`` / ``delphes_readtime_ms_per_event``: Delphes' own
  ``Event.ProcTime`` (the modules) and ``Event.ReadTime`` (parsing the input), mean per event;
- ``delphes_startup_s``: wall(1).

``delphes_speedup_per_event`` = ``delphes_ms_per_event`` / mlsmear's ms per event (all kinds) on
the same events, e.g. ``1000 / run_all.refdet_speedup(...)["mlsmear_events_per_s"]``.

Usage::

    python benchmarks/delphes_rate.py [--events 1000] [--card delphes-atlas]
"""

from __future__ import annotations

import argparse
import json
import time

from mlsmear.delphes.run import DelphesDetector
from mlsmear.generate.pythia import PROCESSES, PythiaGenerator


def delphes_ms_per_event(n_events: int = 1000, *, seed: int = 1, card: str = "delphes-atlas",
                         delphes_seed: int = 1) -> dict:  # fmt: skip
    """Delphes' per-event times (ms) on ``n_events`` Pythia ttbar events (see the module doc)."""
    detector = DelphesDetector.from_card(card)
    record = PythiaGenerator(PROCESSES["ttbar"][0][0].settings, seed=seed).generate(n_events)
    first = PythiaGenerator(PROCESSES["ttbar"][0][0].settings, seed=seed).generate(1)
    times = {}
    for label, events in (("one", first), ("all", record)):
        with detector.job(delphes_seed) as job:
            start = time.perf_counter()
            job.write(events)
            hepmc_seconds = time.perf_counter() - start
            job.reconstruct()
            times[label] = {**job.times, "hepmc_write": hepmc_seconds}
    wall, startup = times["all"]["wall"], times["one"]["wall"]
    return {
        "events": n_events,
        "card": detector.card.name,
        "card_sha256": detector.card.sha256,
        "delphes_commit": detector.installation.info.get("delphes_commit"),
        "root_version": detector.installation.info.get("root_version"),
        "delphes_ms_per_event": round(1e3 * (wall - startup) / max(n_events - 1, 1), 3),
        "delphes_wall_ms_per_event_with_startup": round(1e3 * wall / n_events, 3),
        "delphes_proctime_ms_per_event": round(1e3 * times["all"]["proc"] / n_events, 3),
        "delphes_readtime_ms_per_event": round(1e3 * times["all"]["read"] / n_events, 3),
        "delphes_startup_s": round(startup, 3),
        "delphes_wall_s": round(wall, 2),
        "hepmc_write_ms_per_event": round(1e3 * times["all"]["hepmc_write"] / n_events, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--card", default="delphes-atlas")
    parser.add_argument("--seed", type=int, default=1, help="Pythia seed")
    args = parser.parse_args()
    print(json.dumps(delphes_ms_per_event(args.events, seed=args.seed, card=args.card), indent=1))


if __name__ == "__main__":
    main()
