"""Tests for the Excel exports (exports/, bot/exporting.py)."""
