"""Helpers shared by test modules (fixtures, waits, fake peers).

Test modules import from here, never from each other.
"""
