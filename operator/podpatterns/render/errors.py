"""Errors of rendering: a valid PodPattern that this renderer cannot turn into a Pod."""

from __future__ import annotations

from podpatterns.api.validation import FieldError


class RenderError(ValueError):
    """Rendering failed at one field; `error` says where and what to do.

    A ValueError, because the cause is always the PodPattern's content.
    """

    def __init__(self, path: str, reason: str, message: str) -> None:
        self.error = FieldError(path, reason, message)
        super().__init__(str(self.error))


class PresetNotAvailable(RenderError):
    """A sidecar asks for a preset or profile that no resolver was given for."""
