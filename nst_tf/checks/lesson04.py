"""Checks for lesson 04 (filled in with the lesson)."""

__all__: list[str] = []
