"""The GraphQL operations wandb-frames sends, loaded once from ``queries/*.graphql``.

Each ``.graphql`` file holds exactly one operation. Files are parsed at import time
(a syntax error fails the import, not a request) and printed once: the printed text is
what goes on the wire, so no document is ever re-printed per request. Dynamic values
travel only in variables; a different selection is a different file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

from gql import GraphQLRequest
from graphql import DocumentNode, OperationDefinitionNode, parse, print_ast

__all__ = [
    "DEFAULT_ENTITY",
    "DOCUMENTS",
    "RUN",
    "RUNS_PAGE",
    "RUN_COUNT",
    "RUN_FILES",
    "RUN_IDS_PAGE",
    "VIEWER",
    "Document",
    "load_document",
]


@dataclass(frozen=True, slots=True)
class Document:
    """One parsed GraphQL operation.

    Attributes:
        operation: The operation name, e.g. ``"RunsPage"`` (sent as ``operationName``).
        ast: The parsed document (a graphql-core ``DocumentNode``).
        text: The printed document, computed once.
        filename: The ``.graphql`` file it came from.
    """

    operation: str
    ast: DocumentNode = field(repr=False)
    text: str = field(repr=False)
    filename: str

    def request(self, variables: dict[str, object] | None = None) -> GraphQLRequest:
        """Return a ``gql.GraphQLRequest`` for this operation (for ``Api.client``)."""
        return GraphQLRequest(self.ast, variable_values=variables, operation_name=self.operation)


def load_document(filename: str) -> Document:
    """Parse ``queries/<filename>``; it must hold exactly one named operation.

    Args:
        filename: The file name inside ``wandb_frames/graphql/queries``.

    Returns:
        The parsed :class:`Document`.

    Raises:
        ValueError: The file holds no operation, several, or an anonymous one.
    """
    source = resources.files(__package__).joinpath("queries", filename).read_text("utf-8")
    ast = parse(source, no_location=True)
    operations = [d for d in ast.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].name is None:
        raise ValueError(f"{filename} must hold exactly one named operation")
    return Document(
        operation=operations[0].name.value, ast=ast, text=print_ast(ast), filename=filename
    )


def _load_all() -> dict[str, Document]:
    folder = resources.files(__package__).joinpath("queries")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".graphql"))
    return {name: load_document(name) for name in names}


DOCUMENTS: dict[str, Document] = _load_all()
"""Every operation, keyed by file name."""

RUNS_PAGE = DOCUMENTS["runs_page.graphql"]
RUN_IDS_PAGE = DOCUMENTS["run_ids_page.graphql"]
RUN_COUNT = DOCUMENTS["run_count.graphql"]
RUN = DOCUMENTS["run.graphql"]
RUN_FILES = DOCUMENTS["run_files.graphql"]
VIEWER = DOCUMENTS["viewer.graphql"]
DEFAULT_ENTITY = DOCUMENTS["default_entity.graphql"]
