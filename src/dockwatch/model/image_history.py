"""Which Dockerfile step made each layer: the image config's `history`, matched to layers.

A config's `history` has one entry per build step; steps that change only metadata (ENV, CMD,
...) carry `empty_layer: true` and made no layer. The others, in order, made the image's
layers, in order (OCI image spec, "history")."""

from __future__ import annotations

from typing import Any


def step_of(entry: dict[str, Any]) -> str:
    """A history entry as a user reads it: its `created_by` (the Dockerfile step), or its
    comment, or an empty string."""
    created_by = entry.get("created_by")
    if isinstance(created_by, str) and created_by.strip():
        return created_by.strip()
    comment = entry.get("comment")
    return comment.strip() if isinstance(comment, str) else ""


def layer_steps(config: Any, layer_count: int) -> list[str | None]:
    """The step of each of `layer_count` layers, in layer order; None where the history does
    not say (no history, or fewer non-empty entries than layers)."""
    history = config.get("history") if isinstance(config, dict) else None
    steps = [
        step_of(entry)
        for entry in (history if isinstance(history, list) else [])
        if isinstance(entry, dict) and not entry.get("empty_layer")
    ]
    return [steps[i] if i < len(steps) else None for i in range(layer_count)]
