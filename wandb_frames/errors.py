"""Every exception and warning that wandb-frames raises on purpose.

```text
WandbFramesError(Exception)                      root: everything raised on purpose
├── ConfigurationError(…, ValueError)            missing/invalid API key, base URL, path, argument
├── FilterError(…, ValueError)                   a user-written filter or order is wrong; .path (JSON pointer)
│   ├── FilterSyntaxError                        not valid filter syntax: unknown $op, bad operand, bad key
│   └── UnsupportedFilterError                   valid, but this backend cannot evaluate it; .operator, .backend
├── SchemaError                                  columns that cannot be reconciled; .column
├── ApiError                                     talking to W&B failed; .operation (GraphQL operation name)
│   ├── TransportError                           connection/timeout, after retries
│   ├── HTTPStatusError                          non-2xx answer; .status_code
│   │   ├── AuthenticationError                  401/403
│   │   └── RateLimitError                       429 after retries; .retry_after
│   ├── GraphQLError                             200 with "errors"; .errors, .data (partial, never used as a result)
│   ├── NotFoundError                            entity/project/run/... resolved to null; .what
│   └── ProtocolError                            response shape unexpected (non-JSON, missing fields)
├── IncompleteResultError                        a fetch stopped part-way; .partial holds what arrived
├── CacheError                                   the on-disk cache cannot answer (offline) or is unusable
├── ExportError                                  writing parquet/CSV failed
└── UnsupportedFeatureError(…, NotImplementedError)  a wandb.Api feature wandb-frames does not offer; .feature

WandbFramesWarning(UserWarning)
├── LossyConversionWarning                       a column was widened (e.g. mixed kinds → JSON text)
├── FlattenCollisionWarning                      "a.b" and {"a": {"b"}} in one record: both kept, one escaped
├── CorruptRecordWarning                         a damaged cache file or torn .wandb record was skipped
└── UnknownKeyWarning                            a filter key, columns= entry or keys= metric matches nothing known
```

Messages say what went wrong and what to do next. The API key never appears in
any message, attribute or repr of these classes.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

__all__ = [
    "ApiError",
    "AuthenticationError",
    "CacheError",
    "ConfigurationError",
    "CorruptRecordWarning",
    "ExportError",
    "FilterError",
    "FilterSyntaxError",
    "FlattenCollisionWarning",
    "GraphQLError",
    "HTTPStatusError",
    "IncompleteResultError",
    "LossyConversionWarning",
    "NotFoundError",
    "ProtocolError",
    "RateLimitError",
    "SchemaError",
    "TransportError",
    "UnknownKeyWarning",
    "UnsupportedFeatureError",
    "UnsupportedFilterError",
    "WandbFramesError",
    "WandbFramesWarning",
]


class WandbFramesError(Exception):
    """Root of every error wandb-frames raises on purpose."""


class ConfigurationError(WandbFramesError, ValueError):
    """Raised when settings or arguments are missing or malformed (API key, base URL, path)."""


class FilterError(WandbFramesError, ValueError):
    """Raised when a filter or order is wrong; ``path`` is a JSON pointer into the filter."""

    def __init__(self, message: str, *, path: str = "", filter: Any = None) -> None:
        self.message = message
        self.path = path
        self.filter = filter
        super().__init__(message, path)

    def __str__(self) -> str:
        where = f" (at {self.path})" if self.path else ""
        return f"{self.message}{where}"


class FilterSyntaxError(FilterError):
    """Raised when a filter is not valid syntax: unknown operator, malformed operand, bad key."""


class UnsupportedFilterError(FilterError):
    """Raised when a valid filter uses something one backend cannot evaluate."""

    def __init__(
        self,
        message: str,
        *,
        operator: str = "",
        backend: str = "",
        path: str = "",
        filter: Any = None,
    ) -> None:
        self.operator = operator
        self.backend = backend
        super().__init__(message, path=path, filter=filter)


class SchemaError(WandbFramesError):
    """Raised when columns cannot be reconciled into one table."""

    def __init__(self, message: str, *, column: str = "") -> None:
        self.column = column
        super().__init__(message)


class ApiError(WandbFramesError):
    """Raised when talking to the W&B server failed; ``operation`` names the GraphQL operation."""

    def __init__(self, message: str, *, operation: str = "") -> None:
        self.operation = operation
        super().__init__(message)


class TransportError(ApiError):
    """Raised when the connection failed or timed out, after all retries."""


class HTTPStatusError(ApiError):
    """Raised when the server answered with a non-2xx status."""

    def __init__(self, message: str, *, operation: str = "", status_code: int = 0) -> None:
        self.status_code = status_code
        super().__init__(message, operation=operation)


class AuthenticationError(HTTPStatusError):
    """Raised on 401/403: the API key is missing, wrong or lacks access."""


class RateLimitError(HTTPStatusError):
    """Raised on 429 when retries ran out; ``retry_after`` is the server's last hint in seconds."""

    def __init__(
        self,
        message: str,
        *,
        operation: str = "",
        status_code: int = 429,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, operation=operation, status_code=status_code)


class GraphQLError(ApiError):
    """Raised when the server answered 200 with GraphQL ``errors``; partial ``data`` is kept here only."""

    def __init__(
        self,
        message: str,
        *,
        operation: str = "",
        errors: Sequence[Any] = (),
        data: Any = None,
    ) -> None:
        self.errors = list(errors)
        self.data = data
        super().__init__(message, operation=operation)


class NotFoundError(ApiError):
    """Raised when an entity, project, run, sweep, artifact or report does not exist."""

    def __init__(self, message: str, *, operation: str = "", what: str = "") -> None:
        self.what = what
        super().__init__(message, operation=operation)


class ProtocolError(ApiError):
    """Raised when a response is not what the W&B protocol promises (non-JSON, missing fields)."""


class IncompleteResultError(WandbFramesError):
    """Raised when a fetch stopped part-way; ``partial`` holds what arrived, never returned as complete."""

    def __init__(self, message: str, *, partial: Any = None) -> None:
        self.partial = partial
        super().__init__(message)


class CacheError(WandbFramesError):
    """Raised when the on-disk cache cannot answer (e.g. offline and never fetched) or is unusable."""


class ExportError(WandbFramesError):
    """Raised when writing a parquet or CSV file failed."""


class UnsupportedFeatureError(WandbFramesError, NotImplementedError):
    """Raised when a ``wandb.Api`` member that wandb-frames does not offer is used; ``feature`` names it.

    Raised instead of ``AttributeError`` so that a script written for ``wandb.Api`` stops
    with a message naming the feature and why it is missing (e.g. it needs W&B's cloud).
    """

    def __init__(self, message: str, *, feature: str) -> None:
        super().__init__(message)
        self.feature = feature


class WandbFramesWarning(UserWarning):
    """Root of every warning wandb-frames emits."""


class LossyConversionWarning(WandbFramesWarning):
    """Emitted when a column had to be widened, e.g. mixed kinds stored as JSON text."""


class FlattenCollisionWarning(WandbFramesWarning):
    """Emitted when a literal key ``"a.b"`` and a nested ``{"a": {"b": …}}`` meet in one record."""


class CorruptRecordWarning(WandbFramesWarning):
    """Emitted when a damaged cache file or a torn record was skipped."""


class UnknownKeyWarning(WandbFramesWarning):
    """Emitted when a filter key, ``columns=`` entry or ``keys=`` metric matches nothing known.

    ``key`` is the name as given, ``suggestions`` the closest known names (may be empty).
    """

    def __init__(self, message: str, *, key: str = "", suggestions: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.key = key
        self.suggestions = list(suggestions)


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn_at_user(message: str | Warning, category: type[Warning]) -> None:
    """``warnings.warn`` attributed to the first frame outside wandb-frames (the user's line).

    So ``python -W error`` or a filter on the user's module applies, and the warning shows
    the line of the user's script (``runs.to_pandas()``), not one of ours.
    """
    frame = sys._getframe(1)
    level = 2
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
