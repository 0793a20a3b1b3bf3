"""A quicker constructor for the frozen, slotted dataclasses built once per
frame on the hot paths (headers, HWMP elements, Mesh Control, FastPay
fragments, captured records).

A frozen dataclass's own `__init__` stores each field through
`object.__setattr__`, which looks the slot up by name every time; for a
nine-field header that is most of the cost of decoding it. `quick_init`
gives the class an `__init__` with the same signature that stores through
the slots' descriptors directly. The class stays what it was: frozen
(assignment still raises), compared, hashed and shown as before.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def quick_init(cls: type[T]) -> type[T]:
    """Replace the generated `__init__` of a frozen, slotted dataclass
    whose fields are plain (no factories, no keyword-only fields, no
    `__post_init__`); refuse any other class."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__ or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: quick_init is for frozen, slotted dataclasses without __post_init__")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    namespace: dict[str, Any] = {}
    params_text: list[str] = []
    body: list[str] = []
    for n, f in enumerate(fields):
        if f.default_factory is not dataclasses.MISSING or f.kw_only or not f.init:
            raise TypeError(f"{cls.__name__}.{f.name}: quick_init takes plain fields only")
        if f.default is dataclasses.MISSING:
            params_text.append(f.name)
        else:
            namespace[f"_default_{n}"] = f.default
            params_text.append(f"{f.name}=_default_{n}")
        namespace[f"_store_{n}"] = getattr(cls, f.name).__set__
        body.append(f"    _store_{n}(self, {f.name})\n")
    source = f"def __init__(self, {', '.join(params_text)}):\n" + ("".join(body) or "    pass\n")
    # As dataclasses builds its own: the source holds field names only.
    exec(source, namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
