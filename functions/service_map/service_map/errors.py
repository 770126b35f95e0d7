"""Errors the service-map code raises on purpose."""


class InputError(ValueError):
    """A GetServiceGraph page (or a file of pages) that cannot be summarised.

    The message is one line naming the problem and where it is, fit to show a user as is.
    """


class GraphReadError(RuntimeError):
    """Reading the service graph failed part way.

    ``pages`` holds what was read before the failure, so the caller can keep it (marked
    incomplete) instead of losing it; ``__cause__`` is the error that stopped the read.
    """

    def __init__(self, message: str, pages: list[dict]) -> None:
        super().__init__(message)
        self.pages = pages
