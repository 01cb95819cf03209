"""The Ruby catalogers: installed specifications (default gems under `specifications/default`
included), and Bundler lockfiles, kept apart so that a locked gem that is also installed is
reported once, as installed (`coalesce`)."""

from __future__ import annotations

from dockwatch.catalog.cataloger import GlobCataloger
from dockwatch.catalog.ruby.package import FOUND_BY, LOCK_FOUND_BY
from dockwatch.catalog.ruby.parse_gemfile_lock import parse_gemfile_lock
from dockwatch.catalog.ruby.parse_gemspec import parse_gemspec

CATALOGER = GlobCataloger(FOUND_BY, version=2).parse("/**/specifications/*.gemspec", parse_gemspec)

LOCK_CATALOGER = GlobCataloger(LOCK_FOUND_BY, version=1).parse(
    "/**/Gemfile.lock", parse_gemfile_lock
)
