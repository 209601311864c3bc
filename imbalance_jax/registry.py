"""Objects registered by name (models, methods, losses, samplers, batch rules, scorings): one lookup whose unknown
name is a one-line error listing the known ones. A family registers parametrised names (`oversampling_to_<r>`):
a pattern and a function from its match to the object."""
import re
from typing import Callable


class Registry:
    """Named objects of one kind, in registration order, and families of parametrised names."""

    def __init__(self, kind: str):
        self.kind, self._items, self._families = kind, {}, []

    def register(self, item, name: str = None):
        """Adds an object by name (its `name` by default); returns it."""
        self._items[item.name if name is None else name] = item
        return item

    def register_family(self, pattern: str, build: Callable[[re.Match], object], example: str) -> None:
        """Adds parametrised names: `build(match)` makes the object of a name that fully matches pattern."""
        self._families.append((re.compile(pattern), build, example))

    def unregister(self, name: str) -> None:
        """Removes an object registered by its exact name (tests register their own)."""
        self._items.pop(name, None)

    def get(self, name: str):
        """The object called name (exactly, else by a family); an unknown name is a ValueError naming it and the
        known ones."""
        if name in self._items:
            return self._items[name]
        for pattern, build, _ in self._families:
            match = pattern.fullmatch(name) if isinstance(name, str) else None
            if match:
                return build(match)
        raise ValueError(f"{self.kind}={name!r} is unknown; use one of {(*self._items, *self.examples())}")

    def names(self) -> tuple:
        """Every exactly-registered name."""
        return tuple(self._items)

    def values(self) -> tuple:
        """Every exactly-registered object."""
        return tuple(self._items.values())

    def families(self) -> tuple:
        """(compiled pattern, build, example) of every family."""
        return tuple(self._families)

    def examples(self) -> list[str]:
        """One example name per family (e.g. oversampling_to_10)."""
        return [example for _, _, example in self._families]
