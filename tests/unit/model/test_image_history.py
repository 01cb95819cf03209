"""Layers matched to the config's history steps, skipping metadata-only steps."""

from __future__ import annotations

from dockwatch.model.image_history import layer_steps


def test_empty_layer_steps_are_skipped() -> None:
    config = {
        "history": [
            {"created_by": "/bin/sh -c #(nop) ADD file:abc in /"},
            {"created_by": '/bin/sh -c #(nop)  CMD ["sh"]', "empty_layer": True},
            {"created_by": "RUN apk add curl"},
        ]
    }
    assert layer_steps(config, 2) == ["/bin/sh -c #(nop) ADD file:abc in /", "RUN apk add curl"]


def test_a_short_or_missing_history_says_nothing_for_the_rest() -> None:
    assert layer_steps({"history": [{"comment": "buildkit.dockerfile.v0"}]}, 2) == [
        "buildkit.dockerfile.v0",
        None,
    ]
    assert layer_steps({}, 1) == [None]
    assert layer_steps(None, 1) == [None]
    assert layer_steps({"history": "not a list"}, 1) == [None]
