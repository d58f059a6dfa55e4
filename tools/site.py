"""Build a static site of the lessons (the committed, executed notebooks), their API docs and the experiment report.

    .venv/bin/python tools/site.py                 # writes _site/index.html; open it in a browser
    .venv/bin/python tools/site.py --out /tmp/site --report runs/experiment/report.html

Quarto (what `nbdev_docs` needs) is not available here, so the pages are made with nbconvert (lessons, with their
outputs and plots) and nbdev's `show_doc` rendered to HTML (API), all offline and self-contained.
"""
import argparse, html, importlib, re, shutil
from pathlib import Path
import mistune
import nbformat
from nbconvert import HTMLExporter
from nbdev.showdoc import BasicMarkdownRenderer, show_doc

ROOT = Path(__file__).resolve().parent.parent
STYLE = ("body{font-family:sans-serif;max-width:980px;margin:auto;padding:0 1em}pre{background:#f6f6f6;padding:.5em;overflow-x:auto}"
         "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}img{max-width:100%}")

def page(title, body): return f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>"

def lesson_pages(nbs:Path, out:Path)->list:
    "Each numbered notebook as an HTML page with its stored outputs (not re-executed); returns (file, title) pairs."
    exp, pages = HTMLExporter(template_name='classic'), []
    for nb_path in sorted(nbs.glob('[0-9]*.ipynb')):
        nb = nbformat.read(nb_path, as_version=4)
        nb.cells = [c for c in nb.cells if not c.source.lstrip().startswith('#| hide')]   # setup and clean-up cells
        body, _ = exp.from_notebook_node(nb)
        body = re.sub(r'<script[^>]*src="https?://[^"]*"[^>]*>\s*</script>', '', body)   # CDN scripts: the pages stay offline
        title = next((l.lstrip('# ').strip() for c in nb.cells if c.cell_type == 'markdown' for l in c.source.splitlines() if l.startswith('# ')), nb_path.stem)
        (out/f'{nb_path.stem}.html').write_text(body, 'utf-8')
        pages.append((f'{nb_path.stem}.html', f'{nb_path.stem}: {title}'))
    return pages

def _doc_html(obj)->str:
    md = show_doc(obj, renderer=BasicMarkdownRenderer)._repr_markdown_()
    md = re.sub(r'\[source\]\([^)]*\)\{[^}]*\}', '', md)   # Quarto-only link attributes
    return mistune.html(md)

def api_pages(out:Path)->list:
    "One page per module: nbdev's `show_doc` of every exported name (signature, parameter docs, docstring)."
    (out/'api').mkdir(exist_ok=True)
    pages = []
    for py in sorted((ROOT/'ragft_nb').glob('[a-z]*.py')):
        mod = importlib.import_module(f'ragft_nb.{py.stem}')
        names = [n for n in getattr(mod, '__all__', []) if callable(getattr(mod, n, None))]
        if not names: continue
        doc = (mod.__doc__ or '').strip()
        body = f"<p><a href='../index.html'>index</a></p><h1>ragft_nb.{py.stem}</h1><p>{html.escape(doc)}</p>" + ''.join(_doc_html(getattr(mod, n)) for n in names)
        (out/'api'/f'{py.stem}.html').write_text(page(f'ragft_nb.{py.stem}', body), 'utf-8')
        pages.append((f'api/{py.stem}.html', f'ragft_nb.{py.stem}'))
    return pages

def build_site(out, report=None)->Path:
    "Lessons, API docs and (if given) the experiment report under `out`; returns `out/index.html`."
    out = Path(out)
    if out.exists(): shutil.rmtree(out)
    out.mkdir(parents=True)
    lessons, api = lesson_pages(ROOT/'nbs', out), api_pages(out)
    items = lambda ps: '<ul>' + ''.join(f"<li><a href='{f}'>{html.escape(t)}</a></li>" for f, t in ps) + '</ul>'
    rep = ''
    if report and Path(report).is_file():
        shutil.copy(report, out/'report.html'); rep = "<h2>Experiment report</h2><p><a href='report.html'>every strategy side by side</a></p>"
    (out/'index.html').write_text(page('ragft_nb', f"<h1>ragft_nb</h1><p>RAG and fine-tuning, step by step, measured.</p>"
                                           f"<h2>Lessons</h2>{items(lessons)}{rep}<h2>API</h2>{items(api)}"), 'utf-8')
    return out/'index.html'

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=str(ROOT/'_site'))
    ap.add_argument('--report', default=str(ROOT/'bench'/'experiment'/'report.html'))
    a = ap.parse_args()
    print(f"site: {build_site(a.out, a.report)}")
