"""The Ruby cataloger: installed specifications (default gems under `specifications/default`
included) and Bundler lockfiles."""

from __future__ import annotations

from dockwatch.catalog.cataloger import GlobCataloger
from dockwatch.catalog.ruby.package import FOUND_BY
from dockwatch.catalog.ruby.parse_gemfile_lock import parse_gemfile_lock
from dockwatch.catalog.ruby.parse_gemspec import parse_gemspec

CATALOGER = (
    GlobCataloger(FOUND_BY, version=1)
    .parse("/**/specifications/*.gemspec", parse_gemspec)
    .parse("/**/Gemfile.lock", parse_gemfile_lock)
)
