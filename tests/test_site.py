"""The static site (tools/site.py) and JupyterLab, opened in headless Chromium: every lesson page renders its stored
plots and no error output; the report renders its figures; a notebook opens in JupyterLab with the widget manager."""
import json, os, shutil, socket, subprocess, sys, time, importlib.util
from pathlib import Path
import numpy as np
import matplotlib.image as mpimg
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
if CHROMIUM is None and os.environ.get('CI'): raise RuntimeError("CI needs Debian's chromium for the browser test (.ci/run installs it)")
pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason="no chromium: apt-get install chromium"), pytest.mark.xdist_group("site")]
_spec = importlib.util.spec_from_file_location('site_tool', ROOT/'tools'/'site.py')
site = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(site)

def browser(*args, timeout=180):
    r = subprocess.run([CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', *map(str, args)],
                       capture_output=True, text=True, timeout=timeout)
    return r.stdout

def dom(url, budget=5000): return browser(f'--virtual-time-budget={budget}', '--dump-dom', url)

def screenshot_spread(url, path):
    "Standard deviation of the screenshot's pixels: ~0 for a blank page."
    browser('--window-size=1200,2400', f'--screenshot={path}', url)
    return float(np.asarray(mpimg.imread(path))[..., :3].std())

def stored_pngs(nb_path): return sum('image/png' in o.get('data', {}) for c in nbformat.read(nb_path, 4).cells if c.cell_type == 'code' for o in c.outputs)

@pytest.fixture(scope='module')
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp('site')
    report = ROOT/'bench'/'experiment'/'report.html'
    return site.build_site(out, report if report.is_file() else None), out

def test_lesson_pages_render_plots_and_no_errors(built, tmp_path):
    index, out = built
    home = dom(index.as_uri())
    lessons = sorted((ROOT/'nbs').glob('[0-9]*.ipynb'))
    for nb in lessons:
        assert f'{nb.stem}.html' in home, nb.stem
        page = dom((out/f'{nb.stem}.html').as_uri())
        assert 'output_error' not in page and 'Traceback (most recent call last)' not in page, f"{nb.stem}: error output"
        assert page.count('<img') >= stored_pngs(nb), nb.stem   # every stored plot is shown
    for nb in ('06_evaluate', '13_experiment'):
        assert screenshot_spread((out/f'{nb}.html').as_uri(), tmp_path/f'{nb}.png') > 0.05, f"{nb}: blank screenshot"
    assert screenshot_spread(index.as_uri(), tmp_path/'index.png') > 0.02

def test_api_pages(built):
    index, out = built
    page = dom((out/'api'/'rerank.html').as_uri())
    for name in ('train_reranker', 'pick_threshold'): assert f'>{name}<' in page
    assert '>synthetic_questions<' in dom((out/'api'/'train_retriever.html').as_uri())
    assert 'recall weight of the F-score' in page   # the parameter docs (docments) are shown

def test_report_renders(built, tmp_path):
    index, out = built
    if not (out/'report.html').is_file(): pytest.skip('no committed experiment report (bench/experiment/report.html)')
    page = dom((out/'report.html').as_uri())
    assert page.count('<img') == 5 and 'base + RAG' in page and '<table>' in page
    assert screenshot_spread((out/'report.html').as_uri(), tmp_path/'report.png') > 0.05

def free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def test_jupyterlab_opens_a_notebook():
    port = free_port()
    lab = subprocess.Popen([str(BIN/'jupyter'), 'lab', '--no-browser', f'--port={port}', '--ServerApp.token=', '--ServerApp.password=',
                            '--allow-root', f'--ServerApp.root_dir={ROOT/"nbs"}'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(60):
            try: socket.create_connection(('127.0.0.1', port), timeout=1).close(); break
            except OSError: time.sleep(1)
        page = dom(f'http://127.0.0.1:{port}/lab/tree/10_rerank.ipynb', budget=30000)
        assert 'jp-Notebook-cell' in page and 'Reranking: train a second stage' in page
    finally: lab.terminate(); lab.wait(30)
    ext = subprocess.run([str(BIN/'jupyter'), 'labextension', 'list'], capture_output=True, text=True)
    assert '@jupyter-widgets/jupyterlab-manager' in ext.stdout + ext.stderr   # progress bars render as widgets
    r = subprocess.run([sys.executable, '-W', 'error', '-c', 'from tqdm.notebook import tqdm; tqdm.status_printer(None, total=1)'],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-1000:]   # no "IProgress not found"
