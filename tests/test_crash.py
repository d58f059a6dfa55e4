"""Crashes lose nothing: a process killed (SIGKILL) in the middle of saving leaves the previous version loadable.

A writer process saves two versions of a dense index (different sizes) into the same folder, over and over; the test
kills it at random moments and while it writes a file, and checks, after each kill, that the folder loads, validates (hash, ids, model) and
answers a search with one of the two versions, never a mix of them.
"""
import os, random, signal, subprocess, sys, textwrap, time
import numpy as np
import pytest
from ragft_nb.models import load_embedder
from ragft_nb.encode import model_fingerprint
from ragft_nb.retrieve import DenseIndex, build_faiss_index, load_index, save_index

WRITER = textwrap.dedent("""
    import sys, numpy as np
    from ragft_nb.retrieve import DenseIndex, build_faiss_index, save_index
    folder, model, fp, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    versions = []
    for size in (n, n // 2):
        v = np.random.default_rng(size).standard_normal((size, 384)).astype('float32')
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        versions.append(DenseIndex(build_faiss_index(v), [f'v{size}-{i}' for i in range(size)], model, fp, 'flat'))
    print('ready', flush=True)
    i = 0
    while True: save_index(versions[i % 2], folder); i += 1
""")

@pytest.fixture(scope='module')
def emb(): return load_embedder()

def test_killed_save_leaves_a_loadable_index(tmp_path, emb):
    n = 60_000   # ~92 MB per version: a save takes long enough to be killed in the middle of it
    fp, folder = model_fingerprint(emb), tmp_path/'index'
    v = np.random.default_rng(n).standard_normal((n, 384)).astype('float32'); v /= np.linalg.norm(v, axis=1, keepdims=True)
    save_index(DenseIndex(build_faiss_index(v), [f'v{n}-{i}' for i in range(n)], emb.ragft_name, fp, 'flat'), folder)
    q = v[:1]
    rng, seen = random.Random(0), set()
    for trial in range(6):
        p = subprocess.Popen([sys.executable, '-c', WRITER, str(folder), emb.ragft_name, fp, str(n)], stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == 'ready'
        if trial % 2: time.sleep(rng.uniform(0.05, 1.5))    # anywhere in the save loop (mostly while serialising)
        else:                                               # while an index file is being written
            t, old = time.time(), set(folder.glob('.index*.tmp'))   # (a killed save leaves its temp file behind)
            while not set(folder.glob('.index*.tmp')) - old and time.time() - t < 60: pass
        os.kill(p.pid, signal.SIGKILL); p.wait()
        d = load_index(folder, emb)                         # validates model, fingerprint, ids count, file hash
        size = len(d.ids)
        assert size in (n, n // 2) and d.index.ntotal == size
        assert all(i.startswith(f'v{size}-') for i in (d.ids[0], d.ids[-1]))   # ids and vectors of the same version
        if size == n: assert d.index.search(q, 1)[1][0][0] == 0                  # the vectors are the saved ones
        seen.add(size)
        leftovers = [f.name for f in folder.iterdir() if f.name != 'meta.json']
        assert len(leftovers) <= 3, leftovers                 # the current file, at most one uncommitted, one temp
    save_index(load_index(folder, emb), folder)            # the next save cleans up what a kill left behind
    assert sorted(f.suffix for f in folder.iterdir()) == ['.faiss', '.json']

DIES_AT_COMMIT = textwrap.dedent("""
    import os, signal, sys, numpy as np
    import ragft_nb.retrieve as r
    folder, model, fp = sys.argv[1], sys.argv[2], sys.argv[3]
    real = r.atomic_write_bytes
    def dying(path, data):   # the process dies the moment the new index file is in place, before meta.json is written
        if path.name == 'meta.json': os.kill(os.getpid(), signal.SIGKILL)
        return real(path, data)
    r.atomic_write_bytes = dying
    v = np.eye(5, 384, dtype='float32')
    r.save_index(r.DenseIndex(r.build_faiss_index(v), [f'new-{i}' for i in range(5)], model, fp, 'flat'), folder)
""")

def test_killed_between_index_and_metadata(tmp_path, emb):
    "The worst moment: the new index file is written, its metadata is not. The old version must still load."
    fp, folder = model_fingerprint(emb), tmp_path/'index'
    v = np.eye(3, 384, dtype='float32')
    save_index(DenseIndex(build_faiss_index(v), ['old-0', 'old-1', 'old-2'], emb.ragft_name, fp, 'flat'), folder)
    p = subprocess.run([sys.executable, '-c', DIES_AT_COMMIT, str(folder), emb.ragft_name, fp])
    assert p.returncode == -signal.SIGKILL
    assert len(list(folder.glob('*.faiss'))) == 2          # the new version's file did reach the folder
    d = load_index(folder, emb)
    assert d.ids == ['old-0', 'old-1', 'old-2'] and d.index.ntotal == 3
