"""The differential object-layer suite's machinery: wandb 0.31.0's public members, found by introspection.

For every class of :data:`CLASSES`, the members to check are generated, not hand-picked:

- the public members of the ``wandb`` class (``inspect.getmembers``: methods, properties,
  class attributes), known at collection time, each one test;
- the public attributes of a live ``wandb`` instance read from the seeded server (instance
  variables, and the ``Attrs`` fields ``wandb`` serves through ``__getattr__``, snake_cased),
  checked together by one test per class.

What each member must do on wandb-frames' object is decided by :func:`status`:

- ``same``: same signature (names, order, kinds, defaults; wandb-frames may add keyword-only
  parameters), and reading it (or calling it with :data:`CALLS`) on both clients gives equal
  values of the same kinds (:func:`normalise`);
- ``write``: same signature; not called (a write, or a wait), see :data:`WRITES`;
- ``different``: present (never an ``AttributeError``), a documented difference (:data:`DIFFERENT`);
- ``unsupported``: raises ``UnsupportedFeatureError`` naming it (declared with
  ``compat.Unsupported`` on our class; the reason is the one given there).

The compatibility table of docs/api.md is rendered from the same data (:func:`table`).
"""

from __future__ import annotations

import inspect
import io
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import wandb_frames as wf
from wandb_frames.resources.compat import Unsupported

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def snake(name: str) -> str:
    """``createdAt`` → ``created_at``."""
    return _CAMEL.sub("_", name).lower()


def _wandb_classes() -> dict[str, type]:
    from wandb.apis import public
    from wandb.apis.public.artifacts import Artifacts
    from wandb.sdk.artifacts.artifact import Artifact

    return {
        "Run": public.Run, "Runs": public.Runs, "Project": public.Project, "Projects": public.Projects,
        "Sweep": public.Sweep, "Sweeps": public.Sweeps, "Artifact": Artifact, "Artifacts": Artifacts,
        "ArtifactType": public.ArtifactType, "ArtifactTypes": public.ArtifactTypes, "File": public.File,
        "Files": public.Files, "Reports": public.Reports, "BetaReport": public.BetaReport, "User": public.User,
        "Api": public.Api,
    }


#: wandb class name → wandb-frames class.
OURS: dict[str, type] = {
    "Run": wf.Run, "Runs": wf.Runs, "Project": wf.Project, "Projects": wf.Projects, "Sweep": wf.Sweep,
    "Sweeps": wf.Sweeps, "Artifact": wf.Artifact, "Artifacts": wf.Artifacts, "ArtifactType": wf.ArtifactType,
    "ArtifactTypes": wf.ArtifactTypes, "File": wf.File, "Files": wf.Files, "Reports": wf.Reports,
    "BetaReport": wf.Report, "User": wf.User, "Api": wf.Api,
}
CLASSES = list(OURS)
WANDB = _wandb_classes()


def class_members(name: str) -> list[str]:
    """The public members of wandb's class ``name`` (methods, properties, class attributes)."""
    return sorted(m for m, _ in inspect.getmembers(WANDB[name]) if not m.startswith("_"))


def instance_members(name: str, obj: Any) -> list[str]:
    """Public attributes of a live wandb object that its class does not declare."""
    declared = set(class_members(name))
    found = {k for k in vars(obj) if not k.startswith("_")}
    attrs = getattr(obj, "_attrs", None)
    if isinstance(attrs, Mapping) and not isinstance(obj, WANDB["Artifact"]):
        found |= {snake(k) for k in attrs if not k.startswith("_") and k != "user"}
    return sorted(found - declared)


# ----------------------------------------------------------------------------- what to check

#: How to call a method on both clients: a list of (args, kwargs); absent: called with no argument.
#: ``{tmp}`` in a string is replaced by a fresh folder for each client.
CALLS: dict[str, list[tuple[tuple[Any, ...], dict[str, Any]]]] = {
    "Runs.histories": [((), {"samples": 5, "keys": ["loss"]}), ((), {"samples": 3, "format": "pandas"})],
    "Run.history": [((), {}), ((), {"samples": 5, "keys": ["loss", "eval/loss"], "pandas": False}),
                    ((), {"stream": "system", "pandas": False}), ((), {"stream": "events"})],
    "Run.file": [(("wandb-metadata.json",), {})],
    "Run.files": [((), {}), ((["output.log"],), {})],
    "Run.scan_history": [((), {}), ((), {"keys": ["loss"]})],
    "Run.beta_scan_history": [((), {"keys": ["loss"]})],
    "Run.snake_to_camel": [(("created_at",), {})],
    "Run.load": [((), {"force": True})],
    "Run.load_full_data": [((), {"force": True})],
    "Sweep.best_run": [((), {})],
    "Sweep.snake_to_camel": [(("best_loss",), {})],
    "Project.snake_to_camel": [(("run_count",), {})],
    "File.snake_to_camel": [(("size_bytes",), {})],
    "BetaReport.snake_to_camel": [(("display_name",), {})],
    "User.snake_to_camel": [(("user_name",), {})],
    "File.download": [((), {"root": "{tmp}", "replace": True})],
    "Artifact.download": [((), {"root": "{tmp}"})],
    "ArtifactType.collection": [(("{collection}",), {})],
    "Artifact.get_entry": [(("no-such-file.txt",), {})],
    "Api.artifact": [(("{path}/classifier:latest",), {}), (("{path}/no-such:latest",), {})],
    "Api.artifact_collection": [(("model", "{path}/classifier"), {})],
    "Api.artifact_collection_exists": [(("{path}/classifier", "model"), {}), (("{path}/nope", "model"), {})],
    "Api.artifact_collections": [(("{path}", "model"), {})],
    "Api.artifact_exists": [(("{path}/classifier:latest",), {}), (("{path}/nope:latest",), {})],
    "Api.artifact_type": [(("model", "{path}"), {})],
    "Api.artifact_types": [(("{path}",), {})],
    "Api.artifact_versions": [(("model", "{path}/classifier"), {})],
    "Api.artifacts": [(("model", "{path}/classifier"), {})],
    "Api.from_path": [(("{path}",), {}), (("{path}/runs/{run}",), {}), (("{path}/sweeps/{sweep}",), {})],
    "Api.project": [(("{project}", "{entity}"), {})],
    "Api.projects": [(("{entity}",), {})],
    "Api.reports": [(("{path}",), {})],
    "Api.run": [(("{path}/{run}",), {})],
    "Api.runs": [(("{path}",), {"filters": {"state": "finished"}})],
    "Api.sweep": [(("{path}/{sweep}",), {})],
    "Artifact.get_path": [(("no-such-file.txt",), {})],
}

#: Methods that only read, called with no argument on both clients (besides those of CALLS).
READS: set[str] = {
    "Run.display", "Run.to_html", "Run.logged_artifacts", "Run.used_artifacts",
    "Project.display", "Project.to_html", "Project.sweeps", "Project.collections", "Project.artifacts_types",
    "Sweep.display", "Sweep.to_html", "Sweep.load", "Sweep.agents",
    "File.display", "File.to_html", "BetaReport.display", "BetaReport.to_html", "User.display", "User.to_html",
    "ArtifactType.collections", "ArtifactType.load",
    "Artifact.files", "Artifact.used_by", "Artifact.logged_by", "Artifact.json_encode", "Artifact.is_draft",
    "Artifact.file", "Artifact.wait", "Runs.upgrade_to_full", "Api.flush",
}

#: Methods compared by signature only: writes, and calls that wait.
WRITES: dict[str, str] = {
    "Run.update": "writes the run", "Run.save": "writes the run", "Run.create": "creates a run",
    "Run.wait_until_finished": "polls until the run ends",
    "Sweep.get": "takes each client's own Api object",
    "Api.create_run": "creates a run",
}

#: Documented differences: present on ours (no ``AttributeError``), value or signature differ.
DIFFERENT: dict[str, str] = {
    "Reports.project": "the project's name (wandb: a `Project` object)",
    "Projects.length": "the number of projects (wandb: `None` until a page was fetched)",
    "Api.user_agent": "`wandb-frames/<version>` (wandb: `W&B Public Client <version>`)",
    "Api.settings": "a typed `Settings` (`base_url`, `entity`, `project`, …; wandb: a dict)",
    "Artifact.collection": "the collection's name (wandb: an `ArtifactCollection`; "
                           "`api.artifact_type(a.type, project).collection(a.collection)` gives ours)",
    "Artifact.source_collection": "the collection's name, as `Artifact.collection`",
}


def unsupported_reason(name: str, member: str) -> str | None:
    """The reason of a ``compat.Unsupported`` member of our class (None: it is implemented)."""
    for klass in OURS[name].__mro__:
        found = vars(klass).get(member)
        if isinstance(found, Unsupported):
            return found.reason
        if found is not None:
            return None
    return None


def is_method(name: str, member: str) -> bool:
    """Whether wandb's member is a method (else a property or attribute)."""
    value = inspect.getattr_static(WANDB[name], member, None)
    return value is not None and not isinstance(value, property) and (
        callable(value) or isinstance(value, classmethod | staticmethod))


def status(name: str, member: str) -> str:
    """``same``, ``write``, ``different`` or ``unsupported`` (see the module docstring)."""
    key = f"{name}.{member}"
    if unsupported_reason(name, member) is not None:
        return "unsupported"
    if key in DIFFERENT:
        return "different"
    if key in WRITES:
        return "write"
    return "same"


# ----------------------------------------------------------------------------- comparing

def _identity(value: Any) -> tuple[str, str] | None:
    """(kind, key) for objects of the mapped classes (wandb's or ours)."""
    kind = type(value).__name__
    if kind == "Report":
        kind = "BetaReport"
    if kind == "ArtifactCollection":
        return kind, str(value.name)
    if kind not in OURS or kind.endswith("s") or kind == "Api":
        return None
    if kind == "Run":
        return kind, "/".join(value.path)
    if kind == "Sweep":
        return kind, "/".join(value.path)
    if kind == "Artifact":
        return kind, str(value.qualified_name)
    if kind in ("File", "Project", "ArtifactType"):
        return kind, str(value.name)
    if kind == "User":
        return kind, str(value.username)
    return kind, str(value.id)


def _attr(value: Any, name: str) -> Any:
    """``getattr(value, name, None)``, also when reading raises (wandb's summary raises ``KeyError``)."""
    try:
        return getattr(value, name, None)
    except Exception:  # noqa: BLE001
        return None


def normalise(value: Any, depth: int = 0) -> Any:
    """A comparable form: JSON-like values, frames as columns + rows, objects as (kind, identity)."""
    if depth > 6:
        return repr(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return ("datetime", value.isoformat())
    if isinstance(value, Path):
        return ("path", str(value))
    ident = _identity(value)
    if ident is not None:
        return ident
    if isinstance(_attr(value, "entries"), Mapping):  # an artifact manifest
        return {"__manifest__": {str(k): normalise(v, depth + 1) for k, v in value.entries.items()}}
    if not isinstance(value, Mapping) and isinstance(_attr(value, "path"), str) \
            and isinstance(_attr(value, "digest"), str):  # a manifest entry
        return {k: getattr(value, k) for k in ("path", "digest", "size", "ref")}
    if hasattr(value, "_json_dict"):
        value = value._json_dict
    if hasattr(value, "model_dump"):  # wandb's pydantic fragments
        value = {k: v for k, v in value.model_dump(by_alias=True).items() if not k.startswith("__")}
    if isinstance(value, Mapping):
        return {str(k): normalise(v, depth + 1) for k, v in value.items()}
    if type(value).__name__ == "DataFrame" and hasattr(value, "columns"):
        rows = [{k: normalise(v, depth + 1) for k, v in row.items()
                 if not (isinstance(v, float) and math.isnan(v))} for row in value.to_dict("records")]
        return {"__frame__": [str(c) for c in value.columns], "rows": rows}
    if isinstance(value, io.IOBase):
        name = os.path.basename(getattr(value, "name", ""))
        with value:
            return {"__file__": name, "content": value.read()}
    if isinstance(value, Iterable) and not isinstance(value, bytes | str):
        return [normalise(v, depth + 1) for v in value]
    return ("object", type(value).__name__)


def kind(value: Any) -> str:
    """The kind of a value for the type check: number, str, bool, none, dict, list, frame, Class, …"""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "str"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, Path):
        return "path"
    ident = _identity(value)
    if ident is not None:
        return ident[0]
    if isinstance(_attr(value, "entries"), Mapping):
        return "manifest"
    if hasattr(value, "_json_dict") or hasattr(value, "model_dump") or isinstance(value, Mapping):
        return "dict"
    if type(value).__name__ == "DataFrame":
        return "frame"
    if isinstance(value, io.IOBase):
        return "file"
    if callable(value):
        return "callable"
    if isinstance(value, Iterable):
        return "list"
    return type(value).__name__


@dataclass
class Observed:
    """What reading (or calling) a member gave: a value, or an exception's type."""

    kind: str
    value: Any = None
    error: str | None = None


def observe(obj: Any, member: str, call: tuple[tuple[Any, ...], dict[str, Any]] | None,
            fill: Callable[[Any], Any]) -> Observed:
    """Read ``obj.member`` (and call it with ``call``), normalised; exceptions are observed too."""
    try:
        value = getattr(obj, member)
        if call is not None:
            args, kwargs = call
            value = value(*[fill(a) for a in args], **{k: fill(v) for k, v in kwargs.items()})
        return Observed(kind(value), normalise(value))
    except Exception as exc:  # noqa: BLE001 - both clients' failures are compared
        return Observed("error", error=type(exc).__name__ + ": " + str(exc)[:200])


def signature_problems(name: str, member: str) -> list[str]:
    """How our method's signature departs from wandb's (extra keyword-only parameters allowed)."""
    theirs = inspect.getattr_static(WANDB[name], member)
    if isinstance(theirs, property) or not (callable(theirs) or isinstance(theirs, classmethod | staticmethod)):
        return []  # an attribute: its presence and value are checked by reading it
    ours = inspect.getattr_static(OURS[name], member, None)
    if ours is None:
        return ["missing"]
    if isinstance(ours, property):
        return ["is a property, wandb's is a method"]
    t_params = list(inspect.signature(getattr(WANDB[name], member)).parameters.values())
    o_params = list(inspect.signature(getattr(OURS[name], member)).parameters.values())
    problems = []
    extra = o_params[len(t_params):]
    for i, t in enumerate(t_params):
        if i >= len(o_params):
            problems.append(f"lacks parameter {t.name!r}")
            continue
        o = o_params[i]
        if t.kind is inspect.Parameter.VAR_KEYWORD and o.kind is inspect.Parameter.VAR_KEYWORD:
            continue
        if (o.name, o.kind, o.default) != (t.name, t.kind, t.default):
            problems.append(f"parameter {i}: ours {o.name}={o.default!r} ({o.kind.name}), "
                            f"wandb {t.name}={t.default!r} ({t.kind.name})")
    for o in extra:
        if o.kind is not inspect.Parameter.KEYWORD_ONLY or o.default is inspect.Parameter.empty:
            problems.append(f"extra parameter {o.name!r} must be keyword-only with a default")
    return problems


# ----------------------------------------------------------------------------- the table

def table(rows: list[tuple[str, str, str, str]]) -> str:
    """The compatibility table (markdown) from (class, member, status, note) rows."""
    by_class: dict[str, list[tuple[str, str, str]]] = {}
    for cls, member, st, note in rows:
        by_class.setdefault(cls, []).append((member, st, note))
    counts = {s: sum(1 for r in rows if r[2] == s) for s in ("same", "write", "different", "unsupported")}
    lines = [
        f"{len(rows)} public members of wandb 0.31.0's classes checked: **{counts['same']} equal** "
        f"(same signature, same values from the same server), {counts['write']} writes with the same "
        f"signature (not called by the suite), **{counts['different']} documented differences**, "
        f"{counts['unsupported']} not offered (they raise `UnsupportedFeatureError` naming the feature).",
        "",
        "| wandb class | ours | equal | writes | different | not offered |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for cls, members in by_class.items():
        c = {s: sum(1 for m in members if m[1] == s) for s in ("same", "write", "different", "unsupported")}
        lines.append(f"| `{cls}` | `{OURS[cls].__name__}` | {c['same']} | {c['write']} | {c['different']} "
                     f"| {c['unsupported']} |")
    lines += ["", "Documented differences:", ""]
    for cls, members in by_class.items():
        for member, st, note in members:
            if st == "different":
                lines.append(f"- `{cls}.{member}`: {note}")
    lines += ["", "Not offered:", ""]
    reasons: dict[str, list[str]] = {}
    for cls, members in by_class.items():
        for member, st, note in members:
            if st == "unsupported":
                reasons.setdefault(note, []).append(f"`{cls}.{member}`")
    for note, names in reasons.items():
        lines.append(f"- {', '.join(names)}: {note}")
    return "\n".join(lines) + "\n"
