"""THE operator table: every ``$op`` declared once, with its node and backend support.

Parsing (:mod:`.parse`), both compilers, :mod:`.split`, the docs table in
``docs/filters.md`` (:mod:`.docs`) and ``tests/filters/test_operators_table.py``
read :data:`OPERATORS`. Adding an operator means one row here, one node in
:mod:`.nodes`, one rule per backend and one golden case.
"""

from __future__ import annotations

from dataclasses import dataclass

from wandb_frames.filters import nodes

__all__ = [
    "BACKENDS",
    "FIELD_OPERATORS",
    "LOGICAL_OPERATORS",
    "OPERATORS",
    "RECOGNISED_UNSUPPORTED",
    "Operator",
    "supports",
]

#: Backend names used in :class:`~wandb_frames.errors.UnsupportedFilterError`.
BACKENDS = ("server", "arrow")


@dataclass(frozen=True, slots=True)
class Operator:
    """One operator.

    Attributes:
        name: the ``$op`` spelling.
        node: the AST node class it parses to.
        operand: what the operand must be (documentation and error messages).
        server: how W&B's ``filters`` receive it: ``"yes"``, ``"rewritten"`` (sent in an
            equivalent form the server accepts) or ``"no"`` (evaluated locally by ``split``).
        arrow: whether the local pyarrow backend evaluates it.
        doc: one line for the docs table.
    """

    name: str
    node: type[nodes.Filter]
    operand: str
    server: str
    arrow: bool
    doc: str


OPERATORS: tuple[Operator, ...] = (
    Operator("$and", nodes.And, "non-empty array of filters", "yes", True, "all hold"),
    Operator("$or", nodes.Or, "non-empty array of filters", "yes", True, "at least one holds"),
    Operator("$nor", nodes.Nor, "non-empty array of filters", "yes", True, "none holds"),
    Operator(
        "$not", nodes.Not, "operator object (field level), or a filter (top level)", "rewritten",
        True, "negation; sent to the server as `$nor: [...]`",
    ),
    Operator("$eq", nodes.Eq, "any value", "yes", True, "equal; on arrays: contains (bare values mean `$eq`)"),
    Operator("$ne", nodes.Ne, "any value", "yes", True, "not equal; on arrays: does not contain; matches missing"),
    Operator("$gt", nodes.Gt, "non-null value", "yes", True, "greater than (same type bracket only)"),
    Operator("$gte", nodes.Gte, "non-null value", "yes", True, "greater than or equal (same type bracket only)"),
    Operator("$lt", nodes.Lt, "non-null value", "yes", True, "less than (same type bracket only)"),
    Operator("$lte", nodes.Lte, "non-null value", "yes", True, "less than or equal (same type bracket only)"),
    Operator("$in", nodes.In, "array of values", "yes", True, "equal to any listed value"),
    Operator("$nin", nodes.Nin, "array of values", "yes", True, "equal to none; matches missing"),
    Operator("$exists", nodes.Exists, "boolean", "yes", True, "key present / absent (see known differences)"),
    Operator(
        "$regex", nodes.Regex, "RE2 pattern string", "yes", True,
        "string (or an array element) matches; unanchored search",
    ),
    Operator(
        "$options", nodes.Regex, "letters from `ims`, next to `$regex`", "no", True,
        "regex flags; local only (the server is sent no flags)",
    ),
    Operator(
        "$all", nodes.All, "non-empty array of values", "rewritten", True,
        'array contains all; sent as `$and` of memberships (W&B answers 500 to `$all`)',
    ),
    Operator("$size", nodes.Size, "non-negative integer", "no", True, "array of exactly n elements; local only"),
)

OPERATORS_BY_NAME: dict[str, Operator] = {op.name: op for op in OPERATORS}
LOGICAL_OPERATORS = frozenset({"$and", "$or", "$nor"})
FIELD_OPERATORS = frozenset(op.name for op in OPERATORS) - LOGICAL_OPERATORS

#: Valid MongoDB operators neither backend evaluates: UnsupportedFilterError, not a syntax error.
RECOGNISED_UNSUPPORTED: dict[str, str] = {
    "$elemMatch": "use a condition on the array field itself",
    "$type": "compare within one type instead (e.g. `$gt` with a number)",
    "$mod": "",
    "$expr": "",
    "$where": "",
    "$text": "",
    "$jsonSchema": "",
    "$comment": "",
}


def supports(backend: str, node: nodes.Filter) -> bool:
    """Whether ``backend`` ("server" or "arrow") evaluates this node (not its children)."""
    if backend == "server":
        if isinstance(node, nodes.Regex) and node.options:
            return False
        if isinstance(node, nodes.FieldPredicate) and node.key.server is None:
            return False
        return OPERATORS_BY_NAME[node.op].server != "no"
    return OPERATORS_BY_NAME[node.op].arrow
