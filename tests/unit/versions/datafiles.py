"""Reader for the ground-truth files in tests/data/versions (format: see apk.txt there)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "data" / "versions"
OPS = {"<": -1, "=": 0, ">": 1}


@dataclass(frozen=True, slots=True)
class Relation:
    """`a op b` from line `line` of `path`; `transitive` marks pairs implied by a chain."""

    path: str
    line: int
    a: str
    b: str
    expected: int


@dataclass(frozen=True, slots=True)
class DataFile:
    """One ground-truth file."""

    path: Path
    ecosystems: tuple[str, ...]
    relations: tuple[Relation, ...]
    invalid: tuple[tuple[int, str], ...]

    @property
    def versions(self) -> list[str]:
        """Every version the relations mention."""
        return sorted({v for r in self.relations for v in (r.a, r.b)})


def _unquote(token: str) -> str:
    return "" if token == "''" else token


def read(path: Path) -> DataFile:
    """Parse one file; chains `a < b < c` yield every ordered pair, not only neighbours."""
    ecosystems: tuple[str, ...] = ()
    relations: list[Relation] = []
    invalid: list[tuple[int, str]] = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split(" # ", 1)[0].rstrip() if not raw.startswith("!") else raw
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("@ecosystems "):
            ecosystems = tuple(e.strip() for e in line[len("@ecosystems ") :].split(","))
            continue
        if line.startswith("!"):
            invalid.append((number, _unquote(line[2:] if line.startswith("! ") else "")))
            continue
        tokens = line.split()
        if len(tokens) < 3 or len(tokens) % 2 == 0:
            raise ValueError(f"{path.name}:{number}: malformed line {raw!r}")
        versions = [_unquote(t) for t in tokens[0::2]]
        ops = tokens[1::2]
        if any(op not in OPS for op in ops):
            raise ValueError(f"{path.name}:{number}: unknown operator in {raw!r}")
        for i, op in enumerate(ops):
            relations.append(Relation(path.name, number, versions[i], versions[i + 1], OPS[op]))
        if len(set(ops)) == 1 and ops[0] in "<=" and len(versions) > 2:
            relations.extend(
                Relation(path.name, number, versions[i], versions[j], OPS[ops[0]])
                for i in range(len(versions))
                for j in range(i + 2, len(versions))
            )
    if not ecosystems:
        raise ValueError(f"{path.name}: no @ecosystems line")
    return DataFile(path, ecosystems, tuple(relations), tuple(invalid))


def all_files() -> list[DataFile]:
    """Every `*.txt` in tests/data/versions."""
    return [read(p) for p in sorted(DATA.glob("*.txt"))]
