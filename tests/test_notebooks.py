"Run every notebook as nbdev_test does (cells flagged `slow`/`notest` skipped), one pytest test per notebook."
import json, re, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted(p.name for p in (ROOT/'nbs').glob('[0-9]*.ipynb'))

@pytest.mark.parametrize('nb', NBS)
def test_notebook(nb):
    nbdev_test = Path(sys.executable).parent/'nbdev_test'
    r = subprocess.run([str(nbdev_test), '--path', nb], cwd=ROOT/'nbs', capture_output=True, text=True)
    assert r.returncode == 0, f"{nb} failed:\n{r.stdout[-4000:]}\n{r.stderr[-8000:]}"

def _drawn(cell)->bool:
    "A cell that shows a figure: it calls `plt.show()` or a `plot_*` helper at its top level (not in a `#| slow` cell)."
    src = ''.join(cell['source'])
    return not src.startswith(('#| export', '#| slow', '#| hide')) and ('plt.show()' in src or re.search(r'^\w*\s*=?\s*plot_\w+\(', src, re.M))

@pytest.mark.parametrize('nb', NBS)
def test_committed_executed(nb):
    "A reader on GitHub sees the lesson run: its test cells keep their outputs (tools/execute_nbs.py), figures included."
    cells = [c for c in json.loads((ROOT/'nbs'/nb).read_text())['cells'] if c['cell_type'] == 'code']
    run = [c for c in cells if not ''.join(c['source']).startswith(('#| export', '#| slow', '#| hide', '#| default_exp'))]
    assert sum(bool(c['outputs']) for c in run) >= 1, f"{nb}: no stored outputs; run tools/execute_nbs.py {nb}"
    for c in cells:
        if _drawn(c): assert any('image/png' in o.get('data', {}) for o in c['outputs']), f"{nb}: a plotting cell has no stored figure:\n{''.join(c['source'])[:300]}"
    for c in cells:
        errs = [o for o in c['outputs'] if o.get('output_type') == 'error']
        assert not errs, f"{nb}: stored error output"
