"Run every notebook as nbdev_test does (cells flagged `slow`/`notest` skipped), one pytest test per notebook."
import subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted(p.name for p in (ROOT/'nbs').glob('[0-9]*.ipynb'))

@pytest.mark.parametrize('nb', NBS)
def test_notebook(nb):
    nbdev_test = Path(sys.executable).parent/'nbdev_test'
    r = subprocess.run([str(nbdev_test), '--path', nb], cwd=ROOT/'nbs', capture_output=True, text=True)
    assert r.returncode == 0, f"{nb} failed:\n{r.stdout[-4000:]}\n{r.stderr[-8000:]}"
