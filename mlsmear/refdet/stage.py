"""The contract of a detector stage (Delphes "module") and the typed card parameters it declares.

A stage reads named input collections and writes named output collections. Its class declares the
input and output slots (``INPUTS``, ``OUTPUTS``) and every card key it needs (``PARAMS``); the
card loader checks each key against these declarations, so a misspelt key is an error, never a
silently used default.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..physics.collection import Collection
from .formula import Formula, FormulaError

__all__ = [
    "CardError",
    "Param",
    "RunContext",
    "Stage",
    "boolean",
    "choice",
    "formula",
    "int_list",
    "number",
]


class CardError(ValueError):
    """A detector card that is invalid: unknown or missing keys, wrong types, bad wiring."""


@dataclass(frozen=True)
class Param:
    """One card key of a stage: a description and a parser that validates the TOML value."""

    doc: str
    parse: Callable[[Any, str], Any]


def number(doc: str, *, minimum: float | None = None) -> Param:
    """A real number (int or float in TOML), optionally bounded below."""

    def parse(value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CardError(f"{where}: expected a number, got {value!r}")
        if minimum is not None and value < minimum:
            raise CardError(f"{where}: must be >= {minimum}, got {value!r}")
        return float(value)

    return Param(doc, parse)


def boolean(doc: str) -> Param:
    """``true`` or ``false``."""

    def parse(value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise CardError(f"{where}: expected true or false, got {value!r}")
        return value

    return Param(doc, parse)


def choice(doc: str, choices: Sequence[str]) -> Param:
    """One string out of ``choices``."""

    def parse(value: Any, where: str) -> str:
        if value not in choices:
            raise CardError(f"{where}: expected one of {list(choices)}, got {value!r}")
        return value

    return Param(doc, parse)


def int_list(doc: str) -> Param:
    """A list of integers (e.g. PDG codes)."""

    def parse(value: Any, where: str) -> tuple[int, ...]:
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise CardError(f"{where}: expected a list of integers, got {value!r}")
        return tuple(value)

    return Param(doc, parse)


def formula(doc: str, variables: tuple[str, ...]) -> Param:
    """A :class:`~mlsmear.refdet.formula.Formula` string of the given variables."""

    def parse(value: Any, where: str) -> Formula:
        try:
            return Formula(value, variables)
        except FormulaError as err:
            raise CardError(f"{where}: {err}") from None

    return Param(f"{doc} (formula of {', '.join(variables)})", parse)


@dataclass
class RunContext:
    """What a stage may use besides its inputs: the random generator and a source of ids.

    ``new_uids`` hands out object identities unique within one :meth:`Detector.run` call, so that
    e.g. isolation can skip the candidate itself among the isolation objects.
    """

    rng: np.random.Generator
    n_events: int
    next_uid: int = 0

    def new_uids(self, n: int) -> np.ndarray:
        """``n`` fresh int64 identities."""
        uids = np.arange(self.next_uid, self.next_uid + n, dtype=np.int64)
        self.next_uid += n
        return uids


class Stage:
    """Base class of the detector stages.

    Subclasses set ``INPUTS`` (slot names; ``None`` means "one or more"), ``OUTPUTS`` and
    ``PARAMS`` and implement :meth:`run`. Parsed parameters become attributes of the instance.
    """

    INPUTS: ClassVar[tuple[str, ...] | None] = ("input",)
    OUTPUTS: ClassVar[tuple[str, ...]] = ("output",)
    PARAMS: ClassVar[dict[str, Param]] = {}

    def __init__(
        self, name: str, inputs: Sequence[str], outputs: Sequence[str], **params: Any
    ) -> None:
        self.name = name
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.params = params
        for key, value in params.items():
            setattr(self, key, value)

    def run(self, inputs: list[Collection], ctx: RunContext) -> list[Collection]:
        """Compute the output collections (in ``OUTPUTS`` order) from the inputs."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.name}: {', '.join(self.inputs)} -> "
            f"{', '.join(self.outputs)})"
        )
