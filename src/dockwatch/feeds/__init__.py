"""Advisory and enrichment feeds ("updaters"): one module per source behind the Feed protocol.

`default_feeds()` lists every built-in source with its real upstream URL; the runner (and the
entry-point registry, when it exists) decides which to run.
"""

from __future__ import annotations

from dockwatch.feeds.alpine import AlpineFeed
from dockwatch.feeds.amazon import AmazonFeed, BottlerocketFeed
from dockwatch.feeds.azurelinux import AzureLinuxFeed
from dockwatch.feeds.debian import DebianFeed
from dockwatch.feeds.debian_elts import DebianEltsFeed
from dockwatch.feeds.download import DownloadPolicy
from dockwatch.feeds.epss import EpssFeed
from dockwatch.feeds.fedora import BodhiFeed
from dockwatch.feeds.feed import (
    UNCHANGED,
    Feed,
    FeedError,
    FeedFormatError,
    FeedItem,
    FeedKind,
    Fetched,
    FetchedFile,
    FetchError,
    Fingerprint,
    IncompleteDownload,
    ParseProblem,
    RateLimited,
    TooLarge,
    Unchanged,
    Validator,
)
from dockwatch.feeds.kev import KevFeed
from dockwatch.feeds.nvd import NvdFeed
from dockwatch.feeds.oracle import OracleFeed
from dockwatch.feeds.osv_feed import OsvFeed
from dockwatch.feeds.photon import PhotonFeed
from dockwatch.feeds.redhat import RedHatFeed
from dockwatch.feeds.suse import OpenSuseFeed, SuseFeed
from dockwatch.feeds.ubuntu import UbuntuFeed
from dockwatch.feeds.wolfi import ChainguardFeed, WolfiFeed

#: osv.dev ecosystems fetched as `<bucket>/<ecosystem>/all.zip`: every language ecosystem the
#: cataloguer reports (GHSA, PyPA, Go, RustSec records are all in these archives), Bitnami, and
#: the RPM distributions of the distros table. Debian and Alpine come from their own trackers.
OSV_ECOSYSTEMS = (
    "PyPI", "npm", "Maven", "Go", "crates.io", "RubyGems", "Packagist", "NuGet", "Bitnami",
    "AlmaLinux", "Rocky Linux",
)  # fmt: skip


def default_feeds(policy: DownloadPolicy | None = None) -> list[Feed]:
    """Every built-in feed with its default upstream URL."""
    p = policy or DownloadPolicy()
    feeds: list[Feed] = [OsvFeed(e, policy=p) for e in OSV_ECOSYSTEMS]
    feeds += [DebianFeed(policy=p), AlpineFeed(policy=p)]
    feeds += [NvdFeed(policy=p), KevFeed(policy=p), EpssFeed(policy=p)]
    feeds += [UbuntuFeed(policy=p)]
    feeds += [WolfiFeed(policy=p), ChainguardFeed(policy=p)]
    feeds += [AmazonFeed(policy=p), BottlerocketFeed(policy=p)]
    feeds += [OracleFeed(policy=p)]
    feeds += [AzureLinuxFeed(release, policy=p) for release in ("1.0", "2.0", "3.0")]
    feeds += [RedHatFeed(policy=p)]
    feeds += [SuseFeed(policy=p), OpenSuseFeed(policy=p), BodhiFeed(policy=p)]
    feeds += [PhotonFeed(policy=p)]
    feeds += [DebianEltsFeed(policy=p)]
    return feeds


__all__ = [
    "OSV_ECOSYSTEMS",
    "UNCHANGED",
    "AlpineFeed",
    "AmazonFeed",
    "BottlerocketFeed",
    "AzureLinuxFeed",
    "BodhiFeed",
    "ChainguardFeed",
    "DebianEltsFeed",
    "DebianFeed",
    "DownloadPolicy",
    "EpssFeed",
    "Feed",
    "FeedError",
    "FeedFormatError",
    "FeedItem",
    "FeedKind",
    "FetchError",
    "Fetched",
    "FetchedFile",
    "Fingerprint",
    "IncompleteDownload",
    "KevFeed",
    "NvdFeed",
    "OracleFeed",
    "OsvFeed",
    "ParseProblem",
    "PhotonFeed",
    "RateLimited",
    "RedHatFeed",
    "OpenSuseFeed",
    "OsvFeed",
    "ParseProblem",
    "RateLimited",
    "SuseFeed",
    "TooLarge",
    "UbuntuFeed",
    "Unchanged",
    "Validator",
    "WolfiFeed",
    "default_feeds",
]
