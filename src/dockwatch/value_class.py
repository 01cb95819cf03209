"""`@frozen`: `@dataclass(frozen=True, slots=True)`, made with one `exec` a class, not six.

Python 3.11's `dataclass` compiles each method it writes with an `exec` of its own: `__init__`,
`__repr__`, `__eq__`, `__hash__`, `__setattr__` and `__delattr__`, about 80 µs each. The 242
value classes a server imports before it answers took 1,394 of them. Here `dataclass` still
reads the fields and makes the slots and `__match_args__`. `__init__`, `__eq__` and `__hash__`
are the code it would write, compiled in one `exec`, so the hot paths run what they ran. The
attribute guards and `__repr__` are closures shared in shape by every class, compiled once.
Importing `dockwatch.cli.serve` went from 443-495 to 372-454 ms of CPU (eight runs each,
alternately; medians 457 and 391).

Python 3.13 writes a class's methods in one `exec` itself, so there `frozen` is `dataclass`. So
it is for a class of a shape this module does not make (a method above of the class's own, a
`__post_init__`, a field named `self`); an `InitVar` or a keyword-only field is refused.
`tests/unit/test_value_class.py` holds `frozen` against `dataclass` on random shapes.
"""

from __future__ import annotations

import dataclasses
import inspect
import reprlib
import sys
from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform

T = TypeVar("T")

_OWN_METHODS = (
    "__init__",
    "__repr__",
    "__eq__",
    "__hash__",
    "__setattr__",
    "__delattr__",
    "__getstate__",
    "__setstate__",
)
_STOCK_IS_FAST = sys.version_info >= (3, 13)


class _Factory:
    """The default of a field with a `default_factory` in `__init__`'s signature."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
def frozen(cls: type[T]) -> type[T]:
    """The class as `@dataclass(frozen=True, slots=True)` makes it."""
    if _STOCK_IS_FAST or not _makes(cls):
        return dataclasses.dataclass(frozen=True, slots=True)(cls)
    had_doc = bool(cls.__doc__)
    frozen_base = any(_frozen_flag(base) for base in cls.__mro__[1:])
    # a frozen base makes `dataclass` refuse a non-frozen subclass: then it writes the two
    # attribute guards itself, as they must name the subclass's fields too
    made: Any = dataclasses.dataclass(
        init=False, repr=False, eq=False, frozen=frozen_base, slots=True
    )(cls)
    fields = dataclasses.fields(made)
    pseudo = [f for f in made.__dataclass_fields__.values() if f not in fields]
    if any(f.kw_only for f in fields) or any(
        f._field_type is dataclasses._FIELD_INITVAR  # type: ignore[attr-defined]
        for f in pseudo
    ):
        raise TypeError(f"{cls.__qualname__}: @frozen makes no InitVar or keyword-only field")
    compared = [f.name for f in fields if f.compare]
    hashed = [f.name for f in fields if (f.compare if f.hash is None else f.hash)]
    init, eq, hash_ = _compiled(fields, compared, hashed)
    made.__init__ = _method(made, init)
    made.__eq__ = _method(made, eq)
    made.__hash__ = _method(made, hash_)
    made.__repr__ = _method(made, _repr([f.name for f in fields if f.repr]))
    if not frozen_base:
        guard_set, guard_del = _guards(made, frozenset(f.name for f in fields))
        made.__setattr__ = _method(made, guard_set)
        made.__delattr__ = _method(made, guard_del)
        made.__getstate__ = _getstate
        made.__setstate__ = _setstate
    params = made.__dataclass_params__
    params.init = params.repr = params.eq = params.frozen = True
    if not had_doc:
        signature = str(inspect.signature(made)).replace(" -> None", "")
        made.__doc__ = made.__name__ + signature
    return made  # type: ignore[no-any-return]


def _makes(cls: type) -> bool:
    """Whether the class is of a shape this module makes (else `dataclass` does, or refuses
    it: a frozen class whose base is a dataclass that is not)."""
    own = cls.__dict__
    if any(name in own for name in _OWN_METHODS) or hasattr(cls, "__post_init__"):
        return False
    if any(_frozen_flag(base) is False for base in cls.__mro__[1:]):
        return False
    return "self" not in own.get("__annotations__", {})


def _frozen_flag(cls: type) -> bool | None:
    """Whether a dataclass is frozen (None: the class is not a dataclass itself)."""
    params = cls.__dict__.get("__dataclass_params__")
    return None if params is None else bool(params.frozen)


def _method(cls: type, fn: Callable[..., Any]) -> Callable[..., Any]:
    fn.__qualname__ = f"{cls.__qualname__}.{fn.__name__}"
    return fn


def _compiled(
    fields: tuple[dataclasses.Field[Any], ...], compared: list[str], hashed: list[str]
) -> tuple[Callable[..., None], Callable[..., Any], Callable[..., int]]:
    """`__init__`, `__eq__` and `__hash__`, compiled together: the code `dataclass` writes."""
    scope: dict[str, Any] = {"__object_setattr": object.__setattr__, "__FACTORY": _FACTORY}
    params, lines = [], []
    seen_default = None
    for f in fields:
        value = f.name
        if f.default is not dataclasses.MISSING:
            scope[f"__default_{f.name}"] = f.default
            default = f"__default_{f.name}"
        elif f.default_factory is not dataclasses.MISSING:
            scope[f"__factory_{f.name}"] = f.default_factory
            default = "__FACTORY"
            value = f"__factory_{f.name}() if {f.name} is __FACTORY else {f.name}"
        else:
            default = ""
        if not f.init:  # set from its default, if it has one, as `dataclass` does
            if default == "__FACTORY":
                value = f"__factory_{f.name}()"
            elif default:
                value = default
            else:
                continue
        elif default:
            params.append(f"{f.name}={default}")
            seen_default = f.name
        elif seen_default is not None:
            raise TypeError(f"non-default argument {f.name!r} follows default argument")
        else:
            params.append(f.name)
        lines.append(f"    __object_setattr(self, {f.name!r}, {value})\n")
    body = "".join(lines) or "    pass\n"
    mine = "".join(f"self.{name}," for name in compared)
    theirs = "".join(f"other.{name}," for name in compared)
    exec(  # noqa: S102 - the source is made of field names
        f"def __init__(self, {', '.join(params)}):\n{body}"
        "def __eq__(self, other):\n"
        "    if other.__class__ is self.__class__:\n"
        f"        return ({mine}) == ({theirs})\n"
        "    return NotImplemented\n"
        "def __hash__(self):\n"
        f"    return hash(({''.join(f'self.{name},' for name in hashed)}))\n",
        scope,
    )
    init: Callable[..., None] = scope["__init__"]
    # as `dataclass` annotates it (without compiling them: exec would inherit this module's
    # postponed annotations, and turn them into strings)
    init.__annotations__ = {f.name: f.type for f in fields if f.init} | {"return": None}
    return init, scope["__eq__"], scope["__hash__"]


def _repr(names: list[str]) -> Callable[[Any], str]:
    @reprlib.recursive_repr()
    def __repr__(self: Any) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{self.__class__.__qualname__}({shown})"

    return __repr__


def _guards(cls: type, names: frozenset[str]) -> tuple[Callable[..., None], Callable[..., None]]:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)  # type: ignore[arg-type]

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)  # type: ignore[arg-type]

    return __setattr__, __delattr__


def _getstate(self: Any) -> list[Any]:
    """Pickling and copying: the fields' values, as `dataclass` gives them for frozen slots
    (one function for every class, as there)."""
    return [getattr(self, f.name) for f in dataclasses.fields(self)]


def _setstate(self: Any, state: list[Any]) -> None:
    for f, value in zip(dataclasses.fields(self), state, strict=False):
        object.__setattr__(self, f.name, value)
