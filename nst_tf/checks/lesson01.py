"""Checks for lesson 01 (filled in with the lesson)."""

__all__: list[str] = []
