"The built wheel works in a fresh venv with only its declared dependencies, at the versions pip picks from them."
import configparser, json, os, shutil, subprocess, sys, tempfile, textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# what the wheel is built from (the sdist's files): a copy, so that building leaves nothing in the work tree
SOURCES = ['setup.py', 'settings.ini', 'pyproject.toml', 'README.md', 'MANIFEST.in', 'LICENSE', 'ragft_nb']

def _run(*cmd, cwd=None, env=None, timeout=900):
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout

def _venv_dir(tmp_path)->Path:
    "Where the 2 GB venv goes: in RAM (/dev/shm) where it has room, since deleting 2 GB from a disk mounted with `discard` takes minutes."
    shm = Path('/dev/shm')
    try: ok = not os.statvfs(shm).f_flag & os.ST_NOEXEC and shutil.disk_usage(shm).free > 8e9 and os.access(shm, os.W_OK)
    except OSError: ok = False
    return Path(tempfile.mkdtemp(prefix='ragft_test_wheel_', dir=shm))/'venv' if ok else tmp_path/'venv'

# run in the fresh venv: the imports, each console script (the file pip wrote into bin/) with --help, and a small
# retrieval; one process, so that torch and transformers are imported once
CHECK = textwrap.dedent('''
    import contextlib, io, json, os, runpy, sys
    from ragft_nb.generate import ask
    import ragft_nb, ragft_nb.finetune, ragft_nb.cli, torch
    from ragft_nb.retrieve import build_retriever
    from ragft_nb.models import load_embedder
    helps = {}
    for name in sys.argv[1:]:
        sys.argv, buf = [name, '--help'], io.StringIO()
        with contextlib.redirect_stdout(buf):
            try: runpy.run_path(os.path.join(os.path.dirname(sys.executable), name), run_name='__main__'); code = 'no exit'
            except SystemExit as e: code = e.code
        helps[name] = [code, buf.getvalue()]
    passages = [{'id': 'list', 'title': 'Lists', 'text': 'A list is a mutable sequence; append adds an item at the end.'},
                {'id': 'tuple', 'title': 'Tuples', 'text': 'A tuple is an immutable sequence of values.'},
                {'id': 'dict', 'title': 'Dictionaries', 'text': 'A dictionary maps keys to values by hashing the keys.'},
                {'id': 'file', 'title': 'Files', 'text': 'open() returns a file object for reading or writing a file on disk.'}]
    queries = ['How do I open a file for reading?', 'What maps keys to values?']
    hits = {m: build_retriever(passages, m, load_embedder() if m == 'dense' else None)(queries, k=2) for m in ('bm25', 'dense')}
    print(json.dumps({'file': ragft_nb.__file__, 'torch': torch.__version__, 'helps': helps, 'hits': hits}))
''')

def test_wheel_installs_and_runs(tmp_path):
    # 1. build the wheel from a copy of the sources (no build isolation: setuptools is already in this venv)
    src = tmp_path/'src'
    for name in SOURCES:
        f = ROOT/name
        if f.is_dir(): shutil.copytree(f, src/name, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else: src.mkdir(exist_ok=True); shutil.copy2(f, src/name)
    _run(sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation', src, '-w', tmp_path/'dist')
    wheel, = (tmp_path/'dist').glob('ragft_nb-*.whl')
    # 2. a fresh venv (outside the repo, so `import ragft_nb` can only find the installed wheel)
    venv, work = _venv_dir(tmp_path), tmp_path/'work'
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV', 'PYTHONHOME')}
    # PIP_COMPILE=0: no byte-compiling at install (the runs below compile only what they import)
    env |= {'PIP_COMPILE': '0', 'HF_HUB_OFFLINE': '1', 'RAGFT_CACHE': str(tmp_path/'cache')}
    try:
        _run(sys.executable, '-m', 'venv', venv)
        py = venv/'bin'/'python'
        # 3. torch first, the CPU build, exactly as tools/setup.sh installs it
        _run('bash', ROOT/'tools'/'install_torch.sh', py, env=env)
        # 4. the wheel with its declared dependencies only (no dev extras), resolved by pip from the registry;
        #    torch stays the one just installed (a dependency that wanted another would pull a multi-GB CUDA build)
        (tmp_path/'constraints.txt').write_text('torch==2.13.0\n')
        _run(py, '-m', 'pip', 'install', '-q', '-c', tmp_path/'constraints.txt', wheel, env=env)
        _run(py, '-m', 'pip', 'check', env=env)
        # 5. imports, console scripts' --help and a retrieval (see CHECK), from a folder outside the repo
        cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini')
        scripts = [s.split('=')[0] for s in cfg['DEFAULT']['console_scripts'].split()]
        res = json.loads(_run(py, '-c', CHECK, *scripts, cwd=work, env=env).splitlines()[-1])
    finally: shutil.rmtree(venv if venv.parent == tmp_path else venv.parent, ignore_errors=True)   # about 2 GB
    for s in scripts:
        code, text = res['helps'][s]
        assert code == 0 and text.startswith(f'usage: {s}'), (s, code, text)
    # the README documents `--max_steps`; fastcore >= 2.2.16 would spell it `--max-steps`
    assert '--max_steps' in res['helps']['ragft_finetune'][1]
    for method, hits in res['hits'].items(): assert [h[0][0] for h in hits] == ['file', 'dict'], (method, hits)
    assert res['file'].startswith(str(venv)), res['file']   # the installed package, not the repo's sources
    assert res['torch'].startswith('2.13.0'), res['torch']
