"""Every document the official client sends (and every query of ours) validates against our SDL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from graphql import build_schema, parse, validate

from wandb_frames.graphql.documents import DOCUMENTS as OUR_DOCUMENTS, load_documents
from wandb_frames.testing.engine import SCHEMA_PATH

#: A copy of /work/shared/wandb-schema/client_documents_wandb-0.31.0.json (the 47 documents of wandb 0.31.0).
DOCS_FILE = Path(__file__).with_name("data") / "client_documents_wandb-0.31.0.json"
QUERIES_DIR = Path(__file__).resolve().parents[2] / "wandb_frames" / "graphql" / "queries"
HISTORY_DIR = Path(__file__).resolve().parents[2] / "wandb_frames" / "history" / "queries"
SCHEMA = build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))
HISTORY_DOCUMENTS = load_documents("wandb_frames.history")


def _documents() -> dict[str, str]:
    if not DOCS_FILE.exists():
        return {}
    docs: dict[str, str] = json.loads(DOCS_FILE.read_text(encoding="utf-8"))["documents"]
    return docs


DOCUMENTS = _documents()


@pytest.mark.skipif(not DOCUMENTS, reason="shared schema material not available")
def test_there_are_47_official_documents() -> None:
    assert len(DOCUMENTS) == 47


@pytest.mark.parametrize("key", sorted(DOCUMENTS))
def test_official_document_validates(key: str) -> None:
    errors = validate(SCHEMA, parse(DOCUMENTS[key]))
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize("path", sorted(QUERIES_DIR.glob("*.graphql")), ids=lambda p: p.name)
def test_our_query_validates(path: Path) -> None:
    # The file as assembled with the shared fragments it spreads, i.e. the text we send.
    errors = validate(SCHEMA, parse(OUR_DOCUMENTS[path.name].text))
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize("path", sorted(HISTORY_DIR.glob("*.graphql")), ids=lambda p: p.name)
def test_our_history_query_validates(path: Path) -> None:
    errors = validate(SCHEMA, parse(HISTORY_DOCUMENTS[path.name].text))
    assert not errors, [e.message for e in errors]


def test_schema_rejects_unknown_field() -> None:
    assert validate(SCHEMA, parse("{ viewer { noSuchField } }"))
