"""The Python cataloger on the corpus image debian-python (pip --target install, then whiteouts)."""

from __future__ import annotations

import pytest

from dockwatch.catalog.cataloger import ParseEnv
from dockwatch.catalog.python import CATALOGER
from tests.unit.catalog.python.corpus_layers import contents_section, corpus_image, squashed_files
from tests.unit.catalog.python.test_cataloger import pep503

IMAGE = "debian-python"

pytestmark = pytest.mark.skipif(
    corpus_image(IMAGE) is None, reason=f"corpus image {IMAGE} absent (build-corpus.sh)"
)


def test_squashed_image_matches_ground_truth() -> None:
    layout = corpus_image(IMAGE)
    assert layout is not None
    files = squashed_files(layout, [CATALOGER])
    result = CATALOGER.catalog(files, ParseEnv(None, files))
    assert result.skipped == ()
    truth = contents_section(IMAGE, "python")
    assert len(truth) == 15
    # A wheel's dist-info directory is named NAME-VERSION.dist-info (the binary distribution
    # format spec), which gives an oracle independent of METADATA.
    want = set()
    for path in truth:
        name, version = path.rsplit("/", 1)[1].removesuffix(".dist-info").split("-", 1)
        want.add((pep503(name), version))
    assert {(p.name, p.version) for p in result.packages} == want
    assert ("django", "3.2") in want  # `Django==3.2.0` installs METADATA `Version: 3.2`
    assert "pyyaml" not in {p.name for p in result.packages}  # whited out in layer 4
    assert {p.locations[0].rsplit("/", 1)[0] for p in result.packages} == set(truth)
