"""Helpers shared by test modules (fixtures, waits, fake peers); test modules import from here,
never from each other."""
