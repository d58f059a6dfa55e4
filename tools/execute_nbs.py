"""Execute the lessons and store their outputs and plots in the notebooks, so a reader on GitHub or nbviewer sees them.

    .venv/bin/python tools/execute_nbs.py                  # every numbered notebook, then nbdev_clean
    .venv/bin/python tools/execute_nbs.py 08_raft 10_rerank

Cells run as `nbdev_test` runs them (IN_TEST=1: the test-size settings, `#| slow` and `#| notest` cells skipped), so the
stored outputs are the ones CI reproduces; the long measurements come from `bench/` files the notebooks read. Progress
bars are off (TQDM_DISABLE=1) so that outputs hold results, not bar redraws. A cell that fails stops the run and leaves
that notebook as it was.
"""
import os, re, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = {'slow', 'notest'}   # settings.ini's tst_flags

def flags(source:str)->set:
    "The `#| ` directives at the top of a cell."
    out = set()
    for line in source.splitlines():
        m = re.match(r'\s*#\|\s*([\w-]+)', line)
        if not m: break
        out.add(m.group(1))
    return out

NOISE = re.compile(r'\r|FutureWarning: `is_gradient_checkpointing`|Converting SentenceTransformer model')

def tidy(nb):
    "Drop stderr that is noise for a reader (progress-bar redraws, a library's deprecation notice); warnings we teach stay."
    for c in nb.cells:
        if c.cell_type == 'code': c.outputs = [o for o in c.outputs if not (o.get('name') == 'stderr' and NOISE.search(''.join(o.get('text', ''))))]
    return nb

def execute(nb_path:Path)->float:
    "Run one notebook's cells in its folder and write it back with their outputs; returns seconds."
    from execnb.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    nb, t = read_nb(nb_path), time.time()
    for c in nb.cells:
        if c.cell_type == 'code': c.outputs, c.execution_count = [], None
    skip = lambda c: c.cell_type != 'code' or 'nbdev_export(' in c.source or bool(flags(c.source) & SKIP)
    shell, cwd = CaptureShell(nb_path, mpl_format='png'), os.getcwd()   # plain PNG: half the bytes of 'retina'
    os.chdir(nb_path.parent)
    try: shell.run_all(nb, exc_stop=True, preproc=skip)
    finally: os.chdir(cwd)
    write_nb(tidy(nb), nb_path)
    return time.time() - t

def main(names:list):
    os.environ.update(IN_TEST='1', TQDM_DISABLE='1')
    paths = [ROOT/'nbs'/f'{n.removesuffix(".ipynb")}.ipynb' for n in names] or sorted((ROOT/'nbs').glob('[0-9]*.ipynb'))
    for p in paths:
        if not p.is_file(): sys.exit(f"no notebook {p}")
    for p in paths:   # one process per notebook, as nbdev_test runs them: no state leaks from one to the next
        r = subprocess.run([sys.executable, __file__, '--one', str(p)])
        if r.returncode: sys.exit(f"{p.name} failed (left unchanged)")
    subprocess.run([Path(sys.executable).parent/'nbdev_clean'], cwd=ROOT, check=True)

if __name__ == '__main__':
    if sys.argv[1:2] == ['--one']:
        p = Path(sys.argv[2]); print(f"{p.name}: {execute(p):.0f}s", flush=True)
    else: main(sys.argv[1:])
