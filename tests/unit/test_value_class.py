"""`@frozen` against its oracle, `@dataclass(frozen=True, slots=True)`: random class shapes made
both ways, then everything a caller can see of them compared."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from dataclasses import FrozenInstanceError, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockwatch.value_class import frozen

KINDS = (
    "plain",
    "default",
    "factory",
    "no-compare",
    "no-repr",
    "no-hash",
    "not-init",
    "not-init-factory",
)
"""How one field is declared (`_declaration`)."""


def stock(cls: type) -> type:
    return dataclasses.dataclass(frozen=True, slots=True)(cls)


def _declaration(kind: str, index: int) -> Any:
    """The class attribute of a field of this kind (`dataclasses.MISSING`: none)."""
    return {
        "plain": dataclasses.MISSING,
        "default": index * 10,
        "factory": field(default_factory=lambda: [index]),
        "no-compare": field(default=index, compare=False),
        "no-repr": field(default=f"s{index}", repr=False),
        "no-hash": field(default=index, hash=False),
        "not-init": field(default=-index, init=False),
        "not-init-factory": field(default_factory=lambda: {index}, init=False, hash=False),
    }[kind]


def _make(make: Any, kinds: list[str], doc: str | None = "A value.") -> Any:
    """A class with a field per kind, made by `make`: the same declarations each time."""
    namespace: dict[str, Any] = {"__annotations__": {}, "__doc__": doc, "__module__": __name__}
    for i, kind in enumerate(kinds):
        namespace["__annotations__"][f"f{i}"] = "Any"
        declared = _declaration(kind, i)
        if declared is not dataclasses.MISSING:
            namespace[f"f{i}"] = declared
    return make(type("V", (), namespace))


def _shapes() -> st.SearchStrategy[list[str]]:
    """Field kinds in an order `__init__` accepts: fields without a default first."""
    return st.tuples(
        st.lists(st.sampled_from(["plain", "not-init", "not-init-factory"]), max_size=3),
        st.lists(st.sampled_from(KINDS[1:]), max_size=4),
    ).map(lambda parts: parts[0] + parts[1])


def _arguments(kinds: list[str], values: list[int]) -> list[Any]:
    """Positional arguments for the fields `__init__` takes, some of them lists."""
    taken = [k for k in kinds if not k.startswith("not-init")]
    return [[v] if i % 3 == 2 else v for i, v in enumerate(values[: len(taken)])]


@frozen
class Base:
    a: int
    b: list[int] = field(default_factory=list)


@frozen
class Child(Base):
    c: str = "c"


def _seen(value: Any) -> tuple[Any, ...]:
    """What a caller can read of an instance, the class's identity left out."""
    return (
        repr(value),
        dataclasses.astuple(value),
        dataclasses.asdict(value),
        [getattr(value, f.name) for f in dataclasses.fields(value)],
    )


@settings(max_examples=150, deadline=None)
@given(kinds=_shapes(), values=st.lists(st.integers(-3, 3), min_size=14, max_size=14))
def test_a_frozen_class_behaves_as_the_frozen_slotted_dataclass(
    kinds: list[str], values: list[int]
) -> None:
    ours, theirs = _make(frozen, kinds), _make(stock, kinds)
    assert str(inspect.signature(ours)) == str(inspect.signature(theirs))
    assert ours.__slots__ == theirs.__slots__
    assert ours.__match_args__ == theirs.__match_args__
    assert [
        (f.name, f.default, f.init, f.repr, f.compare, f.hash) for f in dataclasses.fields(ours)
    ] == [
        (f.name, f.default, f.init, f.repr, f.compare, f.hash) for f in dataclasses.fields(theirs)
    ]
    first, second = _arguments(kinds, values[:7]), _arguments(kinds, values[7:])
    a, b = ours(*first), ours(*second)
    x, y = theirs(*first), theirs(*second)
    assert _seen(a) == _seen(x) and _seen(b) == _seen(y)
    assert (a == b) is (x == y) and (a != b) is (x != y)
    assert (a == ours(*first)) is (x == theirs(*first)) is True
    assert a.__eq__(x) is NotImplemented and x.__eq__(a) is NotImplemented
    try:
        expected: int | None = hash(x)
    except TypeError:  # a list among the hashed fields
        expected = None
    if expected is None:
        with pytest.raises(TypeError):
            hash(a)
    else:
        assert hash(a) == expected
    for name in [f.name for f in dataclasses.fields(x)]:
        for target in (a, x):
            with pytest.raises(FrozenInstanceError, match=f"cannot assign to field '{name}'"):
                setattr(target, name, 1)
            with pytest.raises(FrozenInstanceError, match=f"cannot delete field '{name}'"):
                delattr(target, name)
    # pickling sends this state (the classes here are local: pickling itself is tested below)
    assert a.__getstate__() == x.__getstate__()
    for made in (copy.copy(a), copy.deepcopy(a)):
        assert made == a and _seen(made) == _seen(a)
    changes = {f.name: 7 for f in dataclasses.fields(x) if f.init}
    assert _seen(dataclasses.replace(a, **changes)) == _seen(dataclasses.replace(x, **changes))


@given(kinds=_shapes())
def test_a_class_without_a_docstring_is_named_by_its_signature(kinds: list[str]) -> None:
    assert _make(frozen, kinds, doc=None).__doc__ == _make(stock, kinds, doc=None).__doc__


def test_missing_and_misplaced_arguments_are_refused_alike() -> None:
    ours, theirs = _make(frozen, ["plain", "default"]), _make(stock, ["plain", "default"])
    for made in (ours, theirs):
        with pytest.raises(TypeError):
            made()
        with pytest.raises(TypeError):
            made(1, 2, 3)
        with pytest.raises(TypeError):
            made(1, f9=2)
    for make in (frozen, stock):
        with pytest.raises(TypeError, match="non-default argument 'f1' follows default argument"):
            _make(make, ["default", "plain"])


def test_a_subclass_guards_its_own_fields_too() -> None:
    child = Child(1, [2], "x")
    assert repr(child) == "Child(a=1, b=[2], c='x')"
    assert child == Child(1, [2], "x") and child != Base(1, [2])
    for name in ("a", "b", "c"):
        with pytest.raises(FrozenInstanceError):
            setattr(child, name, 0)
    assert pickle.loads(pickle.dumps(child)) == child
    assert dataclasses.replace(child, c="y").c == "y"
    with pytest.raises(TypeError, match="cannot inherit non-frozen dataclass from a frozen one"):

        @dataclasses.dataclass
        class Mutable(Base):  # type: ignore[misc]
            d: int = 0


def test_a_value_holding_itself_is_shown_without_recursing() -> None:
    @frozen
    class Holder:
        items: list[Any]

    holder = Holder([])
    holder.items.append(holder)
    assert (
        repr(holder)
        == "test_a_value_holding_itself_is_shown_without_recursing.<locals>.Holder(items=[...])"
    )


def test_a_class_with_methods_of_its_own_keeps_them() -> None:
    @frozen
    class Shown:
        a: int

        def __repr__(self) -> str:
            return f"<{self.a}>"

    @frozen
    class Keyed:
        a: int
        b: int

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Keyed) and other.a == self.a

        def __hash__(self) -> int:
            return hash(self.a)

    assert repr(Shown(1)) == "<1>"
    assert Keyed(1, 2) == Keyed(1, 3) and hash(Keyed(1, 2)) == hash(1)
    with pytest.raises(FrozenInstanceError):
        Keyed(1, 2).a = 2  # type: ignore[misc]


def test_a_frozen_class_cannot_inherit_from_a_mutable_dataclass() -> None:
    @dataclasses.dataclass
    class Mutable:
        a: int = 0

    with pytest.raises(TypeError, match="cannot inherit frozen dataclass from a non-frozen one"):

        @frozen
        class Frozen(Mutable):  # type: ignore[misc]
            b: int = 0


def test_keyword_only_fields_are_refused() -> None:
    with pytest.raises(TypeError, match="keyword-only"):

        @frozen
        class Keywords:
            a: int = field(kw_only=True)
