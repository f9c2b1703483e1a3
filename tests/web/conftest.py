"""Fixtures of the browser tests (headless chromium driving circushttpd)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))  # makes browser.py importable
