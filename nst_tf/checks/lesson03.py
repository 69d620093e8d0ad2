"""Checks for lesson 03 (filled in with the lesson)."""

__all__: list[str] = []
