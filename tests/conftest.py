import os
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT/'.venv'/'bin'

@pytest.fixture(scope='session')
def root(): return ROOT
