"""Event selections on reco collections: a safe expression language, or a Python callable.

An expression such as ``"MET.pt > 250"`` or
``"ak.sum(Jet.pt, axis=1) > 1000 and ak.num(Muon) == 0"`` is parsed with :mod:`ast`, checked
against a whitelist, then *interpreted* node by node (it is never handed to ``eval``). Allowed:

- the reco collections ``Jet``, ``Electron``, ``Muon``, ``Photon`` (jagged, per event, pT-ordered,
  fields ``pt`` (GeV), ``eta``, ``phi``, ``mass`` (GeV), ``charge``, ``truth_index`` and the
  ``vector`` Momentum4D properties) and ``MET`` (one per event: ``pt`` (GeV), ``phi``);
- attribute access to the collections' fields and vector properties (``Jet.pt``, ``Jet.px``);
- calls of ``ak.sum``, ``ak.num``, ``ak.any``, ``ak.all``, ``ak.max``, ``ak.min`` and ``abs``, with
  the keyword ``axis=<integer>`` only;
- numbers and ``True`` / ``False``; arithmetic ``+ - * / // % **``; comparisons
  ``< <= > >= == !=`` (chains allowed); ``& | ^ ~`` and ``and or not`` (element-wise);
- subscripts by a mask or integers and slices: ``Jet[Jet.pt > 30]``, ``Jet.pt[:, 0]``.

The result must be one boolean per event; a missing value (``ak.max`` of no objects) means false.
Expressions are at most :data:`MAX_LENGTH` characters; constant arithmetic is done in floating
point and refused when it overflows (``9**9**9``, ``10**400``); integers in subscripts must fit in
64 bits. Every failure is a ``ValueError`` naming the selection.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

import awkward as ak
import numpy as np

__all__ = ["ALLOWED", "AK_FUNCTIONS", "COLLECTION_NAMES", "Selection", "event_mask"]

#: Names of the reco collections a selection can use.
COLLECTION_NAMES = ("Jet", "Electron", "Muon", "Photon", "MET")
#: Longest selection expression accepted (characters).
MAX_LENGTH = 2000
#: Vector (Momentum4D / Momentum2D) properties a selection may read besides the fields.
VECTOR_PROPERTIES = frozenset({
    "pt", "eta", "phi", "mass", "px", "py", "pz", "E", "energy", "p", "rapidity", "mt", "Et",
    "theta", "rho", "x", "y", "z", "t", "tau", "m", "costheta", "cottheta", "pseudorapidity",
})
_INT64 = 2**63
#: ``ak`` functions a selection can call.
AK_FUNCTIONS = ("sum", "num", "any", "all", "max", "min")

_BINARY: dict[type[ast.AST], Callable[..., Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow, ast.BitAnd: operator.and_, ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
}
_UNARY: dict[type[ast.AST], Callable[..., Any]] = {
    ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert,
    ast.Not: operator.invert,
}
_COMPARE: dict[type[ast.AST], Callable[..., Any]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}
_BOOL: dict[type[ast.AST], Callable[..., Any]] = {ast.And: operator.and_, ast.Or: operator.or_}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    **{f"ak.{name}": getattr(ak, name) for name in AK_FUNCTIONS},
    "abs": abs,
}

#: What a failing selection may raise (reported as ``ValueError`` naming the fields).
_EVALUATION_ERRORS = (AttributeError, TypeError, ValueError, IndexError, KeyError, ArithmeticError)

ALLOWED = (
    f"collections {', '.join(COLLECTION_NAMES)}; attribute access (Jet.pt, MET.pt); functions "
    f"{', '.join(_FUNCTIONS)} (keyword axis=<int> only); numbers, True, False; arithmetic "
    "+ - * / // % **; comparisons < <= > >= == !=; & | ^ ~ and or not; subscripts by a mask, "
    "integers or slices (Jet[Jet.pt > 30], Jet.pt[:, 0])"
)


class _Checker(ast.NodeVisitor):
    """Raises ``ValueError`` at the first node outside the whitelist; collects collection names."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.names: set[str] = set()

    def fail(self, node: ast.AST, what: str) -> NoReturn:
        where = ast.get_source_segment(self.text, node) or type(node).__name__
        raise ValueError(
            f"selection {self.text!r}: {what} is not allowed ({where!r}). Allowed: {ALLOWED}"
        )

    def generic_visit(self, node: ast.AST) -> None:
        self.fail(node, f"{type(node).__name__}")

    def visit_Expression(self, node: ast.Expression) -> None:
        self.visit(node.body)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id not in COLLECTION_NAMES:
            self.fail(node, f"the name {node.id!r}")
        self.names.add(node.id)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr.startswith("_"):
            self.fail(node, f"the private attribute {node.attr!r}")
        if isinstance(node.value, ast.Name) and node.value.id == "ak":
            self.fail(node, f"ak.{node.attr} outside a call")
        self.visit(node.value)

    def visit_Call(self, node: ast.Call) -> None:
        name = ast.unparse(node.func)
        if name not in _FUNCTIONS:
            self.fail(node, f"calling {name}")
        for keyword in node.keywords:
            if keyword.arg != "axis" or not isinstance(_constant(keyword.value), int):
                self.fail(node, "a keyword other than axis=<integer>")
        for arg in node.args:
            self.visit(arg)

    def visit_Constant(self, node: ast.Constant) -> None:
        if not isinstance(node.value, int | float):
            self.fail(node, f"the constant {node.value!r}")
        if isinstance(node.value, int) and abs(node.value) >= _INT64:
            self.fail(node, f"the integer {node.value} (beyond 64 bits)")

    def visit_BinOp(self, node: ast.BinOp) -> None:
        self._operator(node.op, _BINARY, node)
        self.visit(node.left)
        self.visit(node.right)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        self._operator(node.op, _UNARY, node)
        self.visit(node.operand)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        for value in node.values:
            self.visit(value)

    def visit_Compare(self, node: ast.Compare) -> None:
        for op in node.ops:
            self._operator(op, _COMPARE, node)
        self.visit(node.left)
        for comparator in node.comparators:
            self.visit(comparator)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        self.visit(node.value)
        self._index(node.slice)

    def _index(self, node: ast.AST) -> None:
        if isinstance(node, ast.Tuple):
            for element in node.elts:
                self._index(element)
        elif isinstance(node, ast.Slice):
            for part in (node.lower, node.upper, node.step):
                if part is not None and not isinstance(_constant(part), int):
                    self.fail(node, "a slice bound other than an integer")
        else:
            self.visit(node)

    def _operator(self, op: ast.AST, table: Mapping[type, Any], node: ast.AST) -> None:
        if type(op) not in table:
            self.fail(node, f"the operator {type(op).__name__}")


def _constant(node: ast.AST) -> Any:
    """The value of a (possibly negated) numeric constant node, else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _constant(node.operand)
        return None if value is None else -value
    if isinstance(node, ast.Constant) and not isinstance(node.value, bool):
        return node.value
    return None


def _evaluate(node: ast.AST, names: Mapping[str, Any]) -> Any:
    """Value of a checked expression node."""
    match node:
        case ast.Name(id=name):
            return names[name]
        case ast.Constant(value=value):
            return value
        case ast.Attribute(value=value, attr=attr):
            return _attribute(_evaluate(value, names), attr)
        case ast.Call(func=func, args=args, keywords=keywords):
            options = {str(k.arg): _constant(k.value) for k in keywords}  # checked: axis= only
            return _FUNCTIONS[ast.unparse(func)](*(_evaluate(a, names) for a in args), **options)
        case ast.BinOp(left=left, op=op, right=right):
            return _arithmetic(op, _evaluate(left, names), _evaluate(right, names))
        case ast.UnaryOp(op=op, operand=operand):
            return _UNARY[type(op)](_evaluate(operand, names))
        case ast.BoolOp(op=op, values=values):
            result = _evaluate(values[0], names)
            for value in values[1:]:
                result = _BOOL[type(op)](result, _evaluate(value, names))
            return result
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            result, lhs = None, _evaluate(left, names)
            for compare, comparator in zip(ops, comparators, strict=True):
                rhs = _evaluate(comparator, names)
                term = _COMPARE[type(compare)](lhs, rhs)
                result = term if result is None else result & term
                lhs = rhs
            return result
        case ast.Subscript(value=value, slice=index):
            return _evaluate(value, names)[_index(index, names)]
    raise TypeError(f"unchecked node {type(node).__name__}")  # pragma: no cover


class _SelectionError(ValueError):
    """A selection that cannot be evaluated (reported with the selection's text)."""


def _attribute(value: Any, attr: str) -> Any:
    """A field or vector property of a collection (not the array's methods or internals)."""
    if not isinstance(value, ak.Array):
        raise _SelectionError(f"{attr!r} is read from {type(value).__name__}, not a collection")
    fields = ak.fields(value)
    if attr not in fields and attr not in VECTOR_PROPERTIES:
        raise _SelectionError(
            f"{attr!r} is neither a field {fields} nor a vector property of the collection"
        )
    result = getattr(value, attr)
    if not isinstance(result, ak.Array):
        raise _SelectionError(f"{attr!r} is not a per-object or per-event value")
    return result


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)


def _arithmetic(op: ast.AST, left: Any, right: Any) -> Any:
    """``left op right``; between two numbers in floating point for ``**`` and refused when the
    result overflows (no power towers of Python integers)."""
    if not (_is_number(left) and _is_number(right)):
        if isinstance(op, ast.Pow) and _is_number(right) and abs(right) >= _INT64:
            raise _SelectionError(f"the exponent {right} is beyond 64 bits")
        return _BINARY[type(op)](left, right)
    if isinstance(op, ast.Pow):
        try:
            result = math.pow(float(left), float(right))
        except (OverflowError, ValueError) as err:
            message = f"the constant {left}**{right} cannot be computed: {err}"
            raise _SelectionError(message) from None
        if isinstance(left, int) and isinstance(right, int) and right >= 0 and abs(result) < _INT64:
            result = left**right  # exact, and an integer (subscripts)
    else:
        result = _BINARY[type(op)](left, right)
    if isinstance(result, int) and abs(result) >= _INT64:
        raise _SelectionError(f"the constant {result:.3e} is beyond 64 bits")
    if isinstance(result, float) and not math.isfinite(result):
        raise _SelectionError("a constant of the selection overflows")
    return result


def _index(node: ast.AST, names: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Tuple):
        return tuple(_index(element, names) for element in node.elts)
    if isinstance(node, ast.Slice):
        return slice(*(None if p is None else _constant(p) for p in (node.lower, node.upper,
                                                                      node.step)))
    return _evaluate(node, names)


def event_mask(result: Any, n_events: int, what: str) -> np.ndarray:
    """``result`` of a selection as a numpy bool array, one entry per event (missing = False).

    Raises ``ValueError`` when it is not one boolean per event.
    """
    if isinstance(result, ak.Array):
        if result.ndim != 1:
            raise ValueError(
                f"{what} gives {result.type}: one value per object, not per event; reduce it "
                "with ak.any / ak.all / ak.num / ak.sum / ak.max / ak.min (axis=1)"
            )
        result = ak.to_numpy(ak.fill_none(result, False))
    array = np.asarray(result)
    if array.shape != (n_events,):
        raise ValueError(
            f"{what} must give one boolean per event ({n_events}), got shape {array.shape}"
        )
    if array.dtype != np.bool_:
        raise ValueError(
            f"{what} must give booleans (use a comparison such as MET.pt > 250), got {array.dtype}"
        )
    return array


@dataclass(frozen=True)
class Selection:
    """An event selection on the reco collections.

    Build it with :meth:`parse` (expression text) or :meth:`from_callable`; call it with a mapping
    ``{collection name: ak.Array}`` and the number of events.

    Attributes:
        description: the expression text, or the callable's name.
        collections: the collection names it reads (all of them for a callable).

    Example:
        >>> Selection.parse("MET.pt > 250").collections
        frozenset({'MET'})
    """

    description: str
    collections: frozenset[str]
    _function: Callable[[Mapping[str, ak.Array]], Any] = field(repr=False, compare=False)

    @classmethod
    def parse(cls, text: str) -> Selection:
        """Check an expression (see the module docstring); ``ValueError`` lists what is allowed."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"a selection expression must be a non-empty string; {ALLOWED}")
        if len(text) > MAX_LENGTH:
            raise ValueError(
                f"selection of {len(text)} characters: at most {MAX_LENGTH} are accepted"
            )
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as err:
            raise ValueError(
                f"selection {text!r} is not a valid expression: {err.msg} (column {err.offset})"
            ) from None
        except (RecursionError, MemoryError):
            raise ValueError(f"selection {text[:60]!r}...: nested too deeply") from None
        checker = _Checker(text.strip())
        try:
            checker.visit(tree)
        except RecursionError:
            raise ValueError(f"selection {text[:60]!r}...: nested too deeply") from None
        if not checker.names:
            raise ValueError(f"selection {text!r} uses no reco collection ({ALLOWED})")
        body = tree.body
        return cls(text.strip(), frozenset(checker.names), lambda reco: _evaluate(body, reco))

    @classmethod
    def from_callable(cls, function: Callable[[Mapping[str, ak.Array]], Any]) -> Selection:
        """Wrap ``function(reco) -> one boolean per event``, ``reco`` mapping every name of
        :data:`COLLECTION_NAMES` to its collection."""
        if not callable(function):
            raise ValueError(f"a selection must be an expression string or a callable, got "
                             f"{type(function).__name__}")
        name = getattr(function, "__qualname__", type(function).__name__)
        return cls(f"<callable {name}>", frozenset(COLLECTION_NAMES), function)

    def __call__(self, reco: Mapping[str, ak.Array], n_events: int) -> np.ndarray:
        """Boolean per event; ``ValueError`` if the selection fails on these collections."""
        try:
            result = self._function(reco)
        except RecursionError:
            raise ValueError(f"selection {self.description!r}: nested too deeply") from None
        except _SelectionError as err:
            raise ValueError(
                f"selection {self.description!r} failed on the reco collections: {err}"
            ) from None
        except _EVALUATION_ERRORS as err:
            fields = {name: ak.fields(array) for name, array in reco.items()}
            raise ValueError(
                f"selection {self.description!r} failed on the reco collections: "
                f"{type(err).__name__}: {err}. The collections have the fields {fields}"
            ) from None
        return event_mask(result, n_events, f"selection {self.description!r}")
