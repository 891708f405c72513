"""Exhaustive visitor base: a node without a ``visit_<Node>`` rule is an UnsupportedFilterError."""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from wandb_frames.errors import UnsupportedFilterError
from wandb_frames.filters import nodes

__all__ = ["Visitor"]

T = TypeVar("T")


class Visitor(Generic[T]):
    """Dispatch on the node class name: ``visit_Eq``, ``visit_And``, …"""

    backend: ClassVar[str] = ""

    def visit(self, node: nodes.Filter) -> T:
        """Compile one node (and, through the rules, its children)."""
        method: Any = getattr(self, f"visit_{type(node).__name__}", None)
        if method is None:
            raise UnsupportedFilterError(
                f"{node.op or type(node).__name__} is not supported by the {self.backend} backend",
                operator=node.op,
                backend=self.backend,
                path=getattr(node, "pointer", ""),
            )
        result: T = method(node)
        return result
