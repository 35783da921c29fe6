"""Tests of hotcache.disk (a package, so its conftest does not shadow tests/conftest.py)."""
