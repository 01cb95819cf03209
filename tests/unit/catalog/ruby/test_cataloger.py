"""The Ruby cataloger on specs written by `gem install` and Debian, and Bundler's lockfiles.

Oracle: Ruby itself (`Gem::Specification.load`, `Bundler::LockfileParser`).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from dockwatch.catalog.cataloger import CatalogResult, FileEntry, LayerFiles, ParseEnv
from dockwatch.catalog.ruby import CATALOGER, LOCK_CATALOGER

needs_ruby = pytest.mark.skipif(
    shutil.which("gem") is None, reason="Debian's ruby is not installed"
)

GEMSPEC = """Gem::Specification.new do |s|
  s.name = "acme_widget"
  s.version = "2.4.1"
  s.summary = "widgets"
  s.authors = ["A"]
  s.licenses = ["MIT", "Ruby"]
  s.files = ["lib/acme_widget.rb"]
end
"""


def run(entries: dict[str, bytes]) -> CatalogResult:
    """Both catalogers (installed, lockfile) over the files, results joined."""
    files = LayerFiles({p: FileEntry(p, len(d), 0o644, d) for p, d in entries.items()})
    results = [c.catalog(files, ParseEnv(None, files)) for c in (CATALOGER, LOCK_CATALOGER)]
    return CatalogResult(
        tuple(p for r in results for p in r.packages),
        tuple(s for r in results for s in r.skipped),
    )


def ruby(script: str, *args: str, cwd: Path | None = None) -> list[str]:
    out = subprocess.run(["ruby", "-e", script, *args], check=True, capture_output=True,
                         text=True, timeout=120, cwd=cwd).stdout  # fmt: skip
    return out.splitlines()


def spec_oracle(paths: list[Path]) -> set[tuple[str, str]]:
    script = 'ARGV.each { |p| s = Gem::Specification.load(p); puts "#{s.name} #{s.version}" }'
    return {tuple(line.split(" ")) for line in ruby(script, *map(str, paths))}  # type: ignore[misc]


@pytest.fixture(scope="module")
def gem_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ruby")
    src = root / "acme"
    (src / "lib").mkdir(parents=True)
    (src / "acme_widget.gemspec").write_text(GEMSPEC)
    (src / "lib" / "acme_widget.rb").write_text("module AcmeWidget; end\n")
    subprocess.run(["gem", "build", "acme_widget.gemspec"], cwd=src, check=True,
                   capture_output=True, timeout=120)  # fmt: skip
    subprocess.run(["gem", "install", "--local", "--no-document", "--install-dir", str(root / "gems"),
                    str(src / "acme_widget-2.4.1.gem")], check=True, capture_output=True,
                   timeout=120)  # fmt: skip
    return root


@needs_ruby
def test_gem_install_specification(gem_home: Path) -> None:
    [spec] = (gem_home / "gems" / "specifications").glob("*.gemspec")
    path = f"/usr/local/bundle/specifications/{spec.name}"
    result = run({path: spec.read_bytes()})
    [pkg] = result.packages
    assert {(pkg.name, pkg.version)} == spec_oracle([spec])
    assert pkg.licenses == ("MIT", "Ruby")
    assert pkg.purl == "pkg:gem/acme_widget@2.4.1"
    assert (pkg.type, pkg.found_by, pkg.locations) == ("gem", "ruby-gems", (path,))
    assert pkg.package_manager == "GEMSPEC"  # Inspector's word for an installed gemspec


DEBIAN_SPECS = [
    Path("/usr/lib/ruby/gems/3.1.0/specifications"),
    Path("/usr/share/rubygems-integration/all/specifications"),
]


@needs_ruby
def test_debian_default_and_bundled_gems() -> None:
    specs = [p for d in DEBIAN_SPECS if d.is_dir() for p in d.rglob("*.gemspec")]
    if not specs:
        pytest.skip("no Debian gem specifications here")
    result = run({str(p): p.read_bytes() for p in specs})
    assert result.skipped == ()
    assert {(p.name, p.version) for p in result.packages} == spec_oracle(specs)
    assert any("/specifications/default/" in p.locations[0] for p in result.packages)


@needs_ruby
@pytest.mark.skipif(shutil.which("bundle") is None, reason="Debian's bundler is not installed")
def test_bundler_lockfile(gem_home: Path) -> None:
    proj = gem_home / "proj"
    proj.mkdir()
    (proj / "Gemfile").write_text(
        'source "https://rubygems.org"\ngem "acme_widget", path: "../acme"\ngem "rake"\n'
    )
    subprocess.run(["bundle", "lock", "--local"], cwd=proj, check=True, capture_output=True,
                   timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(gem_home)})  # fmt: skip
    lock = (proj / "Gemfile.lock").read_bytes()
    oracle = ruby(
        'require "bundler"; Bundler::LockfileParser.new(File.read("Gemfile.lock")).specs'
        '.each { |s| puts "#{s.name} #{s.version}" }',
        cwd=proj,
    )
    result = run({"/app/Gemfile.lock": lock})
    assert result.skipped == ()
    got = {f"{p.name} {p.version}" for p in result.packages}
    assert got == set(oracle) and "acme_widget 2.4.1" in got
    sources = {p.name: dict(p.metadata)["source"] for p in result.packages}
    assert sources["acme_widget"] == "PATH" and sources["rake"] == "GEM"
    assert {(p.found_by, p.package_manager) for p in result.packages} == {
        ("ruby-gemfile-lock", "BUNDLER")
    }


# A platform gem, as Bundler writes it (bundler/lib/bundler/lockfile_generator.rb).
PLATFORM_LOCK = b"""GEM
  remote: https://rubygems.org/
  specs:
    nokogiri (1.15.4-x86_64-linux)
      racc (~> 1.4)
    racc (1.7.1)

PLATFORMS
  x86_64-linux

DEPENDENCIES
  nokogiri

BUNDLED WITH
   2.4.19
"""


def test_platform_suffix_is_not_part_of_the_version() -> None:
    got = {p.name: p for p in run({"/Gemfile.lock": PLATFORM_LOCK}).packages}
    assert set(got) == {"nokogiri", "racc"}
    assert got["nokogiri"].version == "1.15.4"
    assert got["nokogiri"].purl == "pkg:gem/nokogiri@1.15.4?platform=x86_64-linux"


def test_unreadable_gemspec_is_skipped() -> None:
    result = run(
        {
            "/g/specifications/x.gemspec": b"Gem::Specification.new do |s|\nend\n",
            "/g/specifications/y.gemspec": bytes(range(256)),
        }
    )
    assert result.packages == ()
    assert len(result.skipped) == 2
