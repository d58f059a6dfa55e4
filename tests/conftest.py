import os
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT/'.venv'/'bin'

# Under pytest-xdist each worker (and every process it starts: notebooks, CLIs, torchrun) gets its share of the cores,
# so two workers do not oversubscribe the CPU with two full thread pools each.
if os.environ.get('PYTEST_XDIST_WORKER'):
    share = max(1, (os.cpu_count() or 1) // int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1')))
    os.environ.setdefault('OMP_NUM_THREADS', str(share))

@pytest.fixture(scope='session')
def root(): return ROOT
