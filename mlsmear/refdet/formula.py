"""Card formulas: small arithmetic expressions of named variables, evaluated on numpy arrays.

Delphes cards write efficiencies and resolutions as formulas of ``pt``, ``eta`` and ``energy``; so
do ours, in Python syntax (``**`` for powers, ``&`` / ``|`` or ``*`` to combine conditions)::

    (abs(eta) <= 1.5) * (pt > 10) * 0.95 + (1.5 < abs(eta) <= 2.5) * (pt > 10) * 0.85

A formula is parsed once, checked against a whitelist (numbers, the allowed variables, arithmetic,
comparisons, and the functions in :data:`FUNCTIONS`) and compiled; nothing else can be evaluated.
Chained comparisons such as ``1.5 < abs(eta) <= 2.5`` are rewritten element-wise.
"""

from __future__ import annotations

import ast
from typing import NoReturn

import numpy as np

__all__ = ["FUNCTIONS", "Formula", "FormulaError"]

#: Functions a formula may call.
FUNCTIONS = {
    "abs": np.abs,
    "sqrt": np.sqrt,
    "exp": np.exp,
    "log": np.log,
    "tanh": np.tanh,
    "cosh": np.cosh,
    "minimum": np.minimum,
    "maximum": np.maximum,
}

_BINARY = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.BitAnd, ast.BitOr)
_COMPARE = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)
_UNARY = (ast.USub, ast.UAdd)


class FormulaError(ValueError):
    """A card formula that does not parse or uses something not allowed."""


class _Checker(ast.NodeTransformer):
    """Reject anything outside the whitelist; rewrite chained comparisons element-wise."""

    def __init__(self, variables: tuple[str, ...], text: str) -> None:
        self.variables = variables
        self.text = text

    def fail(self, what: str) -> NoReturn:
        raise FormulaError(
            f"formula {self.text!r}: {what}; allowed are numbers, the variables "
            f"{list(self.variables)}, + - * / ** & |, comparisons and {sorted(FUNCTIONS)}"
        )

    def generic_visit(self, node: ast.AST) -> ast.AST:
        allowed = (
            ast.Expression,
            ast.Load,
            ast.Constant,
            ast.Name,
            ast.BinOp,
            ast.UnaryOp,
            ast.Compare,
            ast.Call,
            *_BINARY,
            *_COMPARE,
            *_UNARY,
        )
        if not isinstance(node, allowed):
            hint = " (use ** for powers)" if isinstance(node, ast.BitXor) else ""
            self.fail(f"{type(node).__name__} is not allowed{hint}")
        return super().generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            self.fail(f"constant {node.value!r} is not a number")
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id not in self.variables and node.id not in FUNCTIONS:
            self.fail(f"unknown name {node.id!r}")
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if not isinstance(node.func, ast.Name) or node.keywords:
            self.fail(f"call {ast.unparse(node)!r} is not allowed")
        if node.func.id not in FUNCTIONS:
            self.fail(f"unknown function {node.func.id!r}")
        node.args = [self.visit(arg) for arg in node.args]
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)  # transforms the operands in place
        terms = [node.left, *node.comparators]
        pairs = [
            ast.Compare(left=terms[i], ops=[op], comparators=[terms[i + 1]])
            for i, op in enumerate(node.ops)
        ]
        out: ast.expr = pairs[0]
        for pair in pairs[1:]:
            out = ast.BinOp(left=out, op=ast.BitAnd(), right=pair)
        return out


class Formula:
    """A compiled card formula of the given variables, evaluated element-wise on arrays.

    Arguments:
        text: the expression, e.g. ``"sqrt(0.01**2 + pt**2 * 1e-4**2)"``.
        variables: the names the expression may use, e.g. ``("pt", "eta")``.

    Example:
        >>> f = Formula("(abs(eta) <= 1.5) * 0.95", ("pt", "eta"))
        >>> f(pt=np.array([20.0, 30.0]), eta=np.array([0.1, 2.0])).tolist()
        [0.95, 0.0]
    """

    def __init__(self, text: str, variables: tuple[str, ...]) -> None:
        if not isinstance(text, str):
            raise FormulaError(f"a formula must be a string, got {text!r}")
        self.text = " ".join(text.split())
        self.variables = tuple(variables)
        try:
            tree = ast.parse(self.text, mode="eval")
        except SyntaxError as err:
            raise FormulaError(f"formula {self.text!r} does not parse: {err.msg}") from None
        tree = ast.fix_missing_locations(_Checker(self.variables, self.text).visit(tree))
        self._code = compile(tree, "<card formula>", "eval")
        probe = {name: np.linspace(0.5, 3.0, 3) for name in self.variables}
        try:
            self(**probe)
        except (TypeError, ValueError) as err:
            raise FormulaError(f"formula {self.text!r} cannot be evaluated: {err}") from None

    def __call__(self, **values: np.ndarray) -> np.ndarray:
        """Evaluate on arrays of equal shape (one per variable); returns float64 of that shape."""
        if set(values) != set(self.variables):
            raise TypeError(f"formula needs exactly {list(self.variables)}, got {sorted(values)}")
        shape = np.shape(next(iter(values.values())))
        with np.errstate(all="ignore"):
            result = eval(self._code, {"__builtins__": {}, **FUNCTIONS}, values)
        return np.broadcast_to(np.asarray(result, dtype=np.float64), shape).copy()

    def __repr__(self) -> str:
        return f"Formula({self.text!r})"
