"""Tests for the Excel exports (exports/, bot/documents/workbooks.py)."""
