"""``python -m wandb_frames.testing serve ...``: run the local server in the foreground."""

from __future__ import annotations

from wandb_frames.testing.serve import main

raise SystemExit(main())
