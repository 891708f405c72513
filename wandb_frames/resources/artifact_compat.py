"""The members of ``wandb``'s ``Artifact`` beyond its plain fields (a mixin of :class:`Artifact`).

Reads (``files()``, ``download()``, ``used_by()``, ``url``, ``source_*``, ``json_encode()``, …)
answer as wandb 0.31.0's do; writes and the SDK-only features are
:class:`~wandb_frames.resources.compat.Unsupported`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from wandb_frames.errors import ConfigurationError, ProtocolError, UnsupportedFeatureError
from wandb_frames.graphql.documents import DOCUMENTS
from wandb_frames.graphql.executor import Executor
from wandb_frames.graphql.pagination import iter_pages
from wandb_frames.resources.base import Collection, check_per_page, dig
from wandb_frames.resources.compat import WRITE, Unsupported
from wandb_frames.resources.files import FILE_SCHEMA, File, _file, _getter
from wandb_frames.settings import app_url

__all__ = ["ArtifactCompat", "ArtifactFiles", "ArtifactManifest", "ManifestEntry"]

_FILES = DOCUMENTS["artifact_files.graphql"]
_USED_BY = DOCUMENTS["artifact_used_by.graphql"]
_MANIFEST = DOCUMENTS["artifact_manifest.graphql"]
_SDK_ONLY = "it needs the wandb SDK's media types and local artifact cache"


class ArtifactFiles(Collection[File]):
    """The files of one artifact version (``Artifact.files()``): iterable, ``len()``, ``to_pandas()``."""

    schema = FILE_SCHEMA


@dataclass(frozen=True)
class ManifestEntry:
    """One file of an artifact manifest, as ``wandb``'s ``ArtifactManifestEntry``.

    Attributes:
        path: The file's path in the artifact. digest: Its base64 MD5 (or the reference's
        checksum). size: Bytes. ref: The reference URI of a reference file, else None.
        birth_artifact_id: The artifact that first stored the file, if the manifest says.
        extra: Any other fields of the manifest entry.
    """

    path: str
    digest: str
    size: int | None = None
    ref: str | None = None
    birth_artifact_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ArtifactManifest:
    """An artifact's manifest (W&B's version-1 JSON): ``entries`` maps each path to its entry."""

    entries: dict[str, ManifestEntry]
    storage_policy: str = "wandb-storage-policy-v1"
    version: int = 1

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ArtifactManifest:
        """Read the manifest JSON (``{"version": 1, "storagePolicy", "contents": {path: {...}}}``).

        Raises:
            ProtocolError: not a version-1 manifest.
        """
        contents = data.get("contents")
        if data.get("version") != 1 or not isinstance(contents, Mapping):
            raise ProtocolError("the artifact manifest is not W&B's version-1 JSON")
        entries = {}
        for path, entry in contents.items():
            known = {"digest", "size", "ref", "birthArtifactID"}
            entries[str(path)] = ManifestEntry(
                path=str(path), digest=str(entry.get("digest", "")), size=entry.get("size"),
                ref=entry.get("ref"), birth_artifact_id=entry.get("birthArtifactID"),
                extra={k: v for k, v in entry.items() if k not in known},
            )
        return cls(entries, str(data.get("storagePolicy") or "wandb-storage-policy-v1"))


class ArtifactCompat:
    """``wandb``'s ``Artifact`` members, computed from the dataclass fields of :class:`Artifact`."""

    # Fields of Artifact (declared here for the type checker).
    id: str
    entity: str
    project: str
    type: str
    collection: str
    digest: str
    file_count: int | None
    _executor: Executor | None
    _ttl_seconds: int | None
    _history_step: int | None

    add = Unsupported(WRITE)
    add_dir = Unsupported(WRITE)
    add_file = Unsupported(WRITE)
    add_reference = Unsupported(WRITE)
    delete = Unsupported(WRITE)
    finalize = Unsupported(WRITE)
    link = Unsupported(WRITE)
    unlink = Unsupported(WRITE)
    new_draft = Unsupported(WRITE)
    new_file = Unsupported(WRITE)
    remove = Unsupported(WRITE)
    save = Unsupported(WRITE)
    get_added_local_path_name = Unsupported(WRITE)
    get = Unsupported(_SDK_ONLY)
    checkout = Unsupported("it deletes files under root; use download(root)")
    verify = Unsupported(_SDK_ONLY)
    linked_artifacts = Unsupported("registry links are served by W&B's cloud")

    @property
    def version(self) -> str:  # provided by Artifact
        raise NotImplementedError

    @property
    def name(self) -> str:  # provided by Artifact
        raise NotImplementedError

    @property
    def qualified_name(self) -> str:  # provided by Artifact
        raise NotImplementedError

    def _session(self) -> Executor:
        if self._executor is None:
            raise ProtocolError("this artifact was built without a connection to its server")
        return self._executor

    # -- plain values -------------------------------------------------------------------
    @property
    def source_name(self) -> str:
        """``collection:v<N>`` (this artifact is its own source: no registry links)."""
        return f"{self.collection}:{self.version}"

    @property
    def source_version(self) -> str:
        """``v<N>``."""
        return self.version

    @property
    def source_entity(self) -> str:
        """The entity."""
        return self.entity

    @property
    def source_project(self) -> str:
        """The project."""
        return self.project

    @property
    def source_qualified_name(self) -> str:
        """``entity/project/collection:v<N>``."""
        return f"{self.entity}/{self.project}/{self.source_name}"

    @property
    def source_artifact(self) -> Any:
        """The artifact itself (no registry links are read), as ``wandb`` for a non-linked artifact."""
        return self

    @property
    def source_collection(self) -> str:
        """The collection's name (see :attr:`collection`)."""
        return self.collection

    @property
    def digest_algorithm(self) -> str:
        """``"MANIFEST_MD5"``, as W&B computes artifact digests."""
        return "MANIFEST_MD5"

    @property
    def distributed_id(self) -> None:
        """None: a fetched artifact is not part of a distributed write."""
        return None

    @property
    def incremental(self) -> bool:
        """False: a fetched artifact is no incremental draft."""
        return False

    @property
    def is_link(self) -> bool:
        """False: registry links are not read by wandb-frames."""
        return False

    @property
    def linked_at(self) -> None:
        """None (no registry links)."""
        return None

    @property
    def use_as(self) -> None:
        """None (deprecated in ``wandb``)."""
        return None

    @property
    def ttl(self) -> timedelta | None:
        """The time-to-live, or None when the artifact never expires (as ``wandb``)."""
        seconds = self._ttl_seconds
        return None if seconds is None or seconds < 0 else timedelta(seconds=seconds)

    @property
    def history_step(self) -> int | None:
        """The history step the artifact was logged at, if any."""
        return self._history_step

    @property
    def url(self) -> str:
        """The artifact's page in the W&B app."""
        settings = getattr(self._session(), "settings", None)
        root = app_url(settings.base_url) if settings is not None else "https://wandb.ai"
        return f"{root}/{self.entity}/{self.project}/artifacts/{self.type}/{self.collection}/{self.version}"

    def is_draft(self) -> bool:
        """False: fetched artifacts are committed."""
        return False

    def json_encode(self) -> dict[str, Any]:
        """The reference ``wandb`` writes into run configs (``{"_type": "artifactVersion", …}``)."""
        return {"_type": "artifactVersion", "_version": "v0", "id": self.id, "version": self.version,
                "sequenceName": self.collection, "usedAs": None}

    def wait(self, timeout: int | None = None) -> Any:
        """The artifact itself: a fetched artifact is already committed."""
        return self

    # -- requests -----------------------------------------------------------------------
    def files(self, names: list[str] | None = None, per_page: int = 50, start: str | None = None) -> ArtifactFiles:
        """The artifact's files (name, size, md5, URLs), fetched on first use.

        Raises:
            ConfigurationError: bad arguments (before any request).
        """
        if isinstance(names, str):
            raise ConfigurationError(f"names must be a list of file names, got the string {names!r}")
        size = check_per_page(per_page, default=50)
        session = self._session()
        variables = {"entity": self.entity, "project": self.project, "collection": self.collection,
                     "alias": self.version, "names": list(names) if names is not None else None}

        def fetch() -> Iterator[File]:
            getter = _getter(session)
            for page in iter_pages(
                session.execute, _FILES, variables,
                connection_path=("project", "artifactCollection", "artifactMembership", "files"),
                what=[f"project {self.entity + '/' + self.project!r}", f"artifact collection {self.collection!r}",
                      f"artifact {self.qualified_name!r}", "files"],
                page_size=size, size_variable="perPage", cursor_variable="cursor", cursor=start,
            ):
                for node in page.nodes:
                    yield _file(node, getter)

        return ArtifactFiles(fetch)

    def download(self, root: str | os.PathLike[str] | None = None, allow_missing_references: bool = False,
                 skip_cache: bool | None = None, path_prefix: str | os.PathLike[str] | None = None,
                 multipart: bool | None = None) -> str:
        """Download every file under ``root`` (default ``./artifacts/<collection>:v<N>``); returns ``root``.

        Existing files are overwritten; other files under ``root`` are left alone (as ``wandb``).
        ``path_prefix`` keeps only files whose name starts with it.
        """
        target = root if root is not None else os.path.abspath(
            os.path.join(os.environ.get("WANDB_ARTIFACT_DIR") or "./artifacts", self.source_name))
        Path(target).mkdir(parents=True, exist_ok=True)
        prefix = str(path_prefix) if path_prefix is not None else ""
        for found in self.files():
            if found.name.startswith(prefix):
                found.download_to(target, replace=True)
        return str(target)

    def file(self, root: str | None = None) -> str:
        """Download the artifact's only file; returns its path (under ``./artifacts/<name>`` by default), as ``wandb``.

        Raises:
            ConfigurationError: the artifact holds more than one file (or none).
        """
        listed = list(self.files())
        if len(listed) != 1:
            raise ConfigurationError("Artifact.file() is for an artifact with exactly one file; "
                                     "use download() for the others")
        folder = root if root is not None else os.path.join(".", "artifacts", self.name)
        listed[0].download_to(folder, replace=True)
        return os.path.join(folder, listed[0].name)

    @property
    def manifest(self) -> ArtifactManifest:
        """The artifact's manifest: ``entries`` maps each file path to its digest and size (one
        request and one download, then kept), as ``wandb``'s ``artifact.manifest``."""
        cached = self.__dict__.get("_manifest_cache")
        if isinstance(cached, ArtifactManifest):
            return cached
        session = self._session()
        url = dig(session.execute(_MANIFEST, {"id": self.id}), "artifact", "currentManifest", "file", "directUrl")
        if not isinstance(url, str) or not url:
            manifest = ArtifactManifest({})
        else:
            get = _getter(session)
            if get is None:
                raise ProtocolError("this artifact was built without a connection that can download files")
            manifest = ArtifactManifest.from_json(json.loads(get(url)))
        self.__dict__["_manifest_cache"] = manifest
        return manifest

    def get_entry(self, name: str | os.PathLike[str]) -> ManifestEntry:
        """The manifest entry of one file, as ``wandb``.

        Raises:
            KeyError: the artifact has no such file.
        """
        return self.manifest.entries[str(name)]

    def get_path(self, name: str | os.PathLike[str]) -> ManifestEntry:
        """Same as :meth:`get_entry` (``wandb``'s older name)."""
        return self.get_entry(name)

    def used_by(self) -> list[Any]:
        """The runs that used this artifact (each fetched as a ``Run``), as ``wandb``."""
        session = self._session()
        fetch_run = getattr(session, "run", None)
        if fetch_run is None:
            raise UnsupportedFeatureError("Artifact.used_by needs an Api", feature="Artifact.used_by")
        out = []
        for page in iter_pages(session.execute, _USED_BY, {"id": self.id}, connection_path=("artifact", "usedBy"),
                               what=f"artifact {self.qualified_name!r}", page_size=50,
                               size_variable="perPage", cursor_variable="cursor"):
            for node in page.nodes:
                path = f"{dig(node, 'project', 'entity', 'name')}/{dig(node, 'project', 'name')}/{node['name']}"
                out.append(fetch_run(path))
        return out
