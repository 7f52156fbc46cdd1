"""The one error type the release commands report: a sentence for the user, never a traceback."""


class ReleaseError(Exception):
    """A release step refused, with a message that names what to fix."""
