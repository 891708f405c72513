"""The GraphQL operations wandb-frames sends, loaded once from ``queries/*.graphql``.

Each ``.graphql`` file holds exactly one operation. Selections that several operations share
live as named fragments in ``fragments/*.graphql``; loading an operation appends exactly the
fragments it spreads (transitively), so each :class:`Document` is complete on its own. Files
are parsed at import time (a syntax error or an unknown fragment spread fails the import, not
a request) and printed once: the printed text is what goes on the wire, so no document is ever
re-printed per request. Dynamic values travel only in variables; a different selection is a
different file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources

from gql import GraphQLRequest
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
    print_ast,
)

__all__ = [
    "DEFAULT_ENTITY",
    "DOCUMENTS",
    "FRAGMENTS",
    "RUN",
    "RUNS_PAGE",
    "RUN_COUNT",
    "RUN_FILES",
    "RUN_IDS_PAGE",
    "VIEWER",
    "Document",
    "load_document",
    "load_documents",
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


def _graphql_files(package: str, folder: str) -> list[str]:
    directory = resources.files(package).joinpath(folder)
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".graphql"))


def _read(package: str, folder: str, filename: str) -> DocumentNode:
    source = resources.files(package).joinpath(folder, filename).read_text("utf-8")
    return parse(source, no_location=True)


def _load_fragments() -> dict[str, FragmentDefinitionNode]:
    fragments: dict[str, FragmentDefinitionNode] = {}
    for filename in _graphql_files(__package__, "fragments"):
        definitions = _read(__package__, "fragments", filename).definitions
        for definition in definitions:
            if not isinstance(definition, FragmentDefinitionNode):
                raise ValueError(f"fragments/{filename} must hold only fragment definitions")
            name = definition.name.value
            if name in fragments:
                raise ValueError(f"fragment {name} is defined twice (fragments/{filename})")
            fragments[name] = definition
    return fragments


FRAGMENTS: dict[str, FragmentDefinitionNode] = _load_fragments()
"""Every shared fragment of ``fragments/*.graphql``, keyed by fragment name."""


def _spreads(selection_set: SelectionSetNode | None) -> Iterable[str]:
    """Yield the fragment names spread in ``selection_set``, depth first, in text order."""
    if selection_set is None:
        return
    for selection in selection_set.selections:
        if isinstance(selection, FragmentSpreadNode):
            yield selection.name.value
        elif isinstance(selection, FieldNode | InlineFragmentNode):
            yield from _spreads(selection.selection_set)


def _fragments_for(operation: OperationDefinitionNode, where: str) -> list[FragmentDefinitionNode]:
    """The fragments ``operation`` spreads, transitively, each once, in first-spread order."""
    needed: list[FragmentDefinitionNode] = []
    seen: set[str] = set()
    pending = list(_spreads(operation.selection_set))
    pending.reverse()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        fragment = FRAGMENTS.get(name)
        if fragment is None:
            raise ValueError(f"{where} spreads unknown fragment ...{name}")
        seen.add(name)
        needed.append(fragment)
        pending.extend(reversed(list(_spreads(fragment.selection_set))))
    return needed


def load_document(filename: str, *, package: str = __package__) -> Document:
    """Parse ``<package>/queries/<filename>`` and append the shared fragments it spreads.

    Args:
        filename: The file name inside the package's ``queries`` folder.
        package: The package holding ``queries/``; default ``wandb_frames.graphql``
            (:mod:`wandb_frames.history` keeps its own).

    Returns:
        The parsed :class:`Document`: the operation followed by every fragment it spreads.

    Raises:
        ValueError: The file holds no operation, several, an anonymous one, or a fragment
            definition (fragments live in ``fragments/``), or spreads an unknown fragment.
    """
    where = f"{package}/queries/{filename}"
    definitions = _read(package, "queries", filename).definitions
    operations = [d for d in definitions if isinstance(d, OperationDefinitionNode)]
    operation = operations[0] if len(operations) == len(definitions) == 1 else None
    if operation is None or operation.name is None:
        raise ValueError(f"{where} must hold exactly one named operation and nothing else")
    ast = DocumentNode(definitions=(operation, *_fragments_for(operation, where)))
    return Document(operation=operation.name.value, ast=ast, text=print_ast(ast), filename=filename)


def load_documents(package: str = __package__) -> dict[str, Document]:
    """Load every ``<package>/queries/*.graphql`` with :func:`load_document`, keyed by file name."""
    names = _graphql_files(package, "queries")
    return {name: load_document(name, package=package) for name in names}


DOCUMENTS: dict[str, Document] = load_documents()
"""Every operation, keyed by file name."""

RUNS_PAGE = DOCUMENTS["runs_page.graphql"]
RUN_IDS_PAGE = DOCUMENTS["run_ids_page.graphql"]
RUN_COUNT = DOCUMENTS["run_count.graphql"]
RUN = DOCUMENTS["run.graphql"]
RUN_FILES = DOCUMENTS["run_files.graphql"]
VIEWER = DOCUMENTS["viewer.graphql"]
DEFAULT_ENTITY = DOCUMENTS["default_entity.graphql"]
