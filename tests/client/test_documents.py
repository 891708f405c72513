"""Every GraphQL document: one named operation, valid against the server's and the derived SDL."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from graphql import GraphQLSchema, build_schema, validate

from wandb_frames.graphql.documents import DOCUMENTS, Document

DERIVED_SDL = Path("/work/shared/wandb-schema/derived_public_api_subset.graphql")


def _schemas() -> list[tuple[str, GraphQLSchema]]:
    server_sdl = resources.files("wandb_frames.testing").joinpath("schema.graphql").read_text("utf-8")
    schemas = [("server", build_schema(server_sdl))]
    if DERIVED_SDL.is_file():
        schemas.append(("derived", build_schema(DERIVED_SDL.read_text("utf-8"))))
    return schemas


SCHEMAS = _schemas()


@pytest.mark.parametrize("document", list(DOCUMENTS.values()), ids=lambda d: d.filename)
@pytest.mark.parametrize(("label", "schema"), SCHEMAS, ids=[label for label, _ in SCHEMAS])
def test_document_validates(document: Document, label: str, schema: GraphQLSchema) -> None:
    assert validate(schema, document.ast) == [], f"{document.filename} invalid against {label} SDL"


def test_every_query_file_is_loaded_with_its_operation_name() -> None:
    folder = resources.files("wandb_frames.graphql").joinpath("queries")
    files = sorted(p.name for p in folder.iterdir() if p.name.endswith(".graphql"))
    assert sorted(DOCUMENTS) == files
    names = [d.operation for d in DOCUMENTS.values()]
    assert len(set(names)) == len(names)
    assert all(d.text.startswith(("query ", "mutation ")) for d in DOCUMENTS.values())
