"""Media tasks: fetching provider media (filled by the messaging adapters work)."""

__all__: list[str] = []
