"""Tests of the `inferer` package."""
