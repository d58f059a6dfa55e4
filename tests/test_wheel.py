"The built wheel works in a fresh venv with only its declared dependencies, at the versions pip picks from them."
import configparser, os, shutil, subprocess, sys, textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# what the wheel is built from (the sdist's files): a copy, so that building leaves nothing in the work tree
SOURCES = ['setup.py', 'settings.ini', 'pyproject.toml', 'README.md', 'MANIFEST.in', 'LICENSE', 'ragft_nb']

def _run(*cmd, cwd=None, env=None, timeout=900):
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout

RETRIEVE = textwrap.dedent('''
    import ragft_nb, torch
    from ragft_nb.retrieve import build_retriever
    from ragft_nb.models import load_embedder
    passages = [{'id': 'list', 'title': 'Lists', 'text': 'A list is a mutable sequence; append adds an item at the end.'},
                {'id': 'tuple', 'title': 'Tuples', 'text': 'A tuple is an immutable sequence of values.'},
                {'id': 'dict', 'title': 'Dictionaries', 'text': 'A dictionary maps keys to values by hashing the keys.'},
                {'id': 'file', 'title': 'Files', 'text': 'open() returns a file object for reading or writing a file on disk.'}]
    queries = ['How do I open a file for reading?', 'What maps keys to values?']
    for method in ('bm25', 'dense'):
        hits = build_retriever(passages, method, load_embedder() if method == 'dense' else None)(queries, k=2)
        assert [h[0][0] for h in hits] == ['file', 'dict'], (method, hits)
    print(ragft_nb.__file__, torch.__version__)
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
    venv, work = tmp_path/'venv', tmp_path/'work'
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV', 'PYTHONHOME')}
    env |= {'PIP_NO_COMPILE': '1', 'HF_HUB_OFFLINE': '1', 'RAGFT_CACHE': str(tmp_path/'cache')}
    try:
        _run(sys.executable, '-m', 'venv', venv)
        py, bin_ = venv/'bin'/'python', venv/'bin'
        # 3. torch first, the CPU build, exactly as tools/setup.sh installs it
        _run('bash', ROOT/'tools'/'install_torch.sh', py, env=env)
        # 4. the wheel with its declared dependencies only (no dev extras), resolved by pip from the registry;
        #    torch stays the one just installed (a dependency that wanted another would pull a multi-GB CUDA build)
        (tmp_path/'constraints.txt').write_text('torch==2.13.0\n')
        _run(py, '-m', 'pip', 'install', '-q', '-c', tmp_path/'constraints.txt', wheel, env=env)
        _run(py, '-m', 'pip', 'check', env=env)
        # 5. the imports (which also byte-compile what they load), then each console script's --help and a small
        #    retrieval, in parallel
        _run(py, '-c', 'from ragft_nb.generate import ask; import ragft_nb.finetune, ragft_nb.cli', cwd=work, env=env)
        cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini')
        scripts = [s.split('=')[0] for s in cfg['DEFAULT']['console_scripts'].split()]
        jobs = {'retrieve': [py, '-c', RETRIEVE], **{s: [bin_/s, '--help'] for s in scripts}}
        with ThreadPoolExecutor(len(jobs)) as ex:
            out = dict(zip(jobs, ex.map(lambda cmd: _run(*cmd, cwd=work, env=env), jobs.values())))
    finally: shutil.rmtree(venv, ignore_errors=True)   # about 2 GB
    for s in scripts: assert out[s].startswith(f'usage: {s}'), out[s]
    # the README documents `--max_steps`; fastcore >= 2.2.16 would spell it `--max-steps`
    assert '--max_steps' in out['ragft_finetune']
    installed, torch_version = out['retrieve'].split()
    assert installed.startswith(str(venv)), installed
    assert torch_version.startswith('2.13.0'), torch_version
