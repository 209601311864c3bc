"""Objects registered by name (losses, samplers, batch rules, scorings): one lookup whose unknown name is a
one-line error listing the known ones."""


class Registry:
    """Named objects of one kind, in registration order."""

    def __init__(self, kind: str):
        self.kind, self._items = kind, {}

    def register(self, item):
        """Adds an object by its `name`; returns it."""
        self._items[item.name] = item
        return item

    def get(self, name: str):
        """The object called name; an unknown name is a ValueError naming it and the known ones."""
        if name not in self._items:
            raise ValueError(f"{self.kind}={name!r} is unknown; use one of {tuple(self._items)}")
        return self._items[name]

    def names(self) -> tuple:
        """Every registered name."""
        return tuple(self._items)

    def values(self) -> tuple:
        """Every registered object."""
        return tuple(self._items.values())
