"""The project's user-facing error base: anything raised as ``LiqmapError`` is shown as one clear line."""


class LiqmapError(ValueError):
    """An error whose message is safe and meant to be shown to the user as is."""
