"""Typed jobs: each survives the durable queue unchanged; an unreadable one fails, alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockwatch.app import build
from dockwatch.config import Settings
from dockwatch.scan.jobs import (
    ApplyDelta,
    DeleteImage,
    Job,
    JobQueue,
    Recatalogue,
    RematchImage,
    ScanImage,
    UnknownJob,
    decode,
    encode,
    enqueue,
)

JOBS: list[Job] = [
    ScanImage("app", "sha256:" + "1" * 64),
    Recatalogue("app", "sha256:" + "2" * 64),
    RematchImage("team/app", "sha256:" + "3" * 64),
    DeleteImage("app", "sha256:" + "4" * 64),
    ApplyDelta(
        version=7,
        source="osv:PyPI",
        added=("PYSEC-1",),
        modified=("GHSA-x",),
        withdrawn=("PYSEC-2",),
        package_keys=(("PyPI", "jinja2"), ("Debian:12", "openssl")),
        cves=("CVE-2026-1",),
    ),
]


@pytest.mark.parametrize("job", JOBS, ids=lambda j: type(j).__name__)
def test_a_job_survives_its_document(job: Job) -> None:
    assert decode(job.kind, encode(job)) == job


def test_a_delta_reads_the_advisories_changed_payload() -> None:
    payload = {
        "version": 7,
        "source": "osv:PyPI",
        "added": ["PYSEC-1"],
        "modified": ["GHSA-x"],
        "withdrawn": ["PYSEC-2"],
        "packageKeys": [["PyPI", "jinja2"], ["Debian:12", "openssl"]],
        "cves": ["CVE-2026-1"],
        "unrelated": True,
    }
    assert ApplyDelta.from_document(payload) == JOBS[-1]
    # the queue stores the same document (jobs queued by earlier versions read the same)
    assert json.loads(encode(JOBS[-1])) == {k: v for k, v in payload.items() if k != "unrelated"}


def test_an_update_split_in_shards_queues_one_job_each() -> None:
    delta = JOBS[-1]
    assert isinstance(delta, ApplyDelta)
    assert delta.split(1) == [delta] and delta.key == "delta:7:osv:PyPI"
    parts = delta.split(3)
    assert [(p.shard, p.shards, p.key) for p in parts] == [
        (k, 3, f"delta:7:osv:PyPI:{k}/3") for k in range(3)
    ]
    for part in parts:  # the same update, each with its shard
        assert decode(part.kind, encode(part)) == part
        doc = json.loads(encode(part))
        assert (doc.pop("shard"), doc.pop("shards")) == (part.shard, 3)
        assert doc == json.loads(encode(delta))
    for bad in ('{"shard": 3, "shards": 3}', '{"shard": -1, "shards": 2}', '{"shards": 0}'):
        with pytest.raises(UnknownJob):
            decode("delta", bad)


def test_unreadable_documents_are_refused() -> None:
    with pytest.raises(UnknownJob):
        decode("compact", "{}")
    with pytest.raises(UnknownJob):
        decode("scan", '{"repository": "app"}')
    with pytest.raises(UnknownJob):
        decode("scan", "not json")


def test_the_queue_hands_back_typed_jobs_and_fails_unreadable_ones(tmp_path: Path) -> None:
    services = build(Settings(data_dir=tmp_path / "data"))
    try:
        now = services.clock.now()
        with services.store.write() as uow:
            uow.jobs.enqueue("compact", "old-kind", "{}", now)  # a kind this version lacks
            for n, job in enumerate(JOBS):
                assert enqueue(uow.jobs, job, f"k{n}", now)
            assert not enqueue(uow.jobs, JOBS[0], "k0", now)
        queue = JobQueue(services.store, services.clock)
        claimed = []
        while (c := queue.claim()) is not None:
            claimed.append(c.job)
            queue.finish(c)
        assert claimed == JOBS
        assert queue.depth() == {"done": len(JOBS), "failed": 1}
    finally:
        services.close()
