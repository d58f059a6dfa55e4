"""Retrieval at scale with FAISS: build time, memory, size, latency and recall@10 of Flat, HNSW, IVF-Flat and IVF-PQ
at 10k, 100k and 1M vectors of dimension 384 (all-MiniLM-L6-v2's).

    .venv/bin/python bench/scale.py                      # writes bench/scale.{md,json,png}
    .venv/bin/python bench/scale.py --sizes 10000 --queries 200 --out /tmp/scale   # a quick look

Vectors: the 8,391 real passage embeddings of the docs corpus are the seeds of a synthetic set of any size: each
synthetic vector is a real one plus isotropic Gaussian noise, renormalised, with the noise scale chosen so that a
synthetic vector's similarity to its seed is the square root of the median similarity of a real passage to its
nearest real neighbour (so two vectors grown from one seed are about as similar as real neighbours) (the "neighbour structure" check below compares the two sets). Queries: real question embeddings of the
bundled QA set, perturbed the same way to get `--queries` of them. Ground truth: exact inner-product search.
Each (size, index) runs in its own process, so its peak resident memory (VmHWM) is its own; search latency is
measured one query at a time on one thread.
"""
import argparse, json, os, subprocess, sys, time
from pathlib import Path
import numpy as np

HERE = Path(__file__).parent

def real_vectors():
    from ragft_nb.data import load_bundled
    from ragft_nb.models import load_embedder
    from ragft_nb.encode import encode_passages, encode_queries
    docs, qa = load_bundled('docs')
    emb = load_embedder()
    return encode_passages(emb, docs), encode_queries(emb, [q['question'] for q in qa])

def noisy(seeds, n, sigma, rng):
    x = seeds[rng.integers(0, len(seeds), n)] + rng.standard_normal((n, seeds.shape[1]), dtype=np.float32) * sigma
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

def calibrate(real):
    "Noise scale whose seed similarity matches the median real nearest-neighbour similarity."
    s = real[:2000] @ real.T
    s[np.arange(2000), np.arange(2000)] = -1
    target = float(np.median(s.max(1))) ** 0.5   # two vectors grown from one seed then meet at about the real neighbour similarity
    noise = np.random.default_rng(1).standard_normal((500, real.shape[1]), dtype=np.float32)
    lo, hi = 0.0, 1.0
    for _ in range(30):
        mid = (lo + hi) / 2
        x = real[:500] + noise * mid
        sim = float(np.median((x / np.linalg.norm(x, axis=1, keepdims=True) * real[:500]).sum(1)))
        lo, hi = (mid, hi) if sim > target else (lo, mid)
    return (lo + hi) / 2, target

def dataset(n, nq, seed=0):
    cache = HERE/'scale-work'/f'vectors-{n}-{nq}-{seed}.npz'
    if cache.is_file():
        z = np.load(cache); return z['x'], z['q'], float(z['sigma'])
    real, rq = real_vectors()
    rng = np.random.default_rng(seed)
    sigma, _ = calibrate(real)
    x = np.concatenate([real[:n], noisy(real, max(0, n - len(real)), sigma, rng)])[:n]
    q = noisy(rq, nq, sigma / 2, rng)
    cache.parent.mkdir(exist_ok=True); np.savez(cache, x=x, q=q, sigma=sigma)
    return x, q, sigma

def structure(real, synth, k=10):
    "Quantiles of the top-k neighbour similarities within each set (same size): does the synthetic set look real?"
    def qs(x):
        s = x[:1000] @ x.T
        s[np.arange(1000), np.arange(1000)] = -1
        top = -np.sort(-s, axis=1)[:, :k]
        return {f'top{j+1}': [float(v) for v in np.quantile(top[:, j], [0.1, 0.5, 0.9])] for j in (0, k - 1)}
    return {'real': qs(real), 'synthetic': qs(synth)}

def build(kind, x, n):
    import faiss
    d = x.shape[1]
    nlist = int(4 * np.sqrt(n))
    if kind == 'flat': index = faiss.IndexFlatIP(d)
    elif kind == 'hnsw':
        index = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT); index.hnsw.efConstruction = 64
    elif kind == 'ivf-flat': index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
    elif kind == 'ivf-pq':   # 48 sub-quantizers x 8 bits = 48 bytes per vector (32x smaller), re-ranked exactly on the top 100
        index = faiss.IndexRefineFlat(faiss.IndexIVFPQ(faiss.IndexFlatIP(d), d, nlist, 48, 8, faiss.METRIC_INNER_PRODUCT))
    elif kind == 'ivf-pq-only':   # the same codes without the exact re-ranking copy: what fits when the vectors do not
        index = faiss.IndexIVFPQ(faiss.IndexFlatIP(d), d, nlist, 48, 8, faiss.METRIC_INNER_PRODUCT)
    else: raise ValueError(kind)
    if not index.is_trained: index.train(x[np.random.default_rng(0).choice(n, min(n, 50 * nlist), replace=False)])
    index.add(x)
    return index

def tune(kind, index, q, gt, k=10):
    "The smallest search breadth that reaches recall@10 >= 0.95 (or the largest tried)."
    import faiss
    ivf = [1, 2, 4, 8, 16, 32, 64, 128]
    knobs = {'hnsw': [16, 32, 64, 128, 256], 'ivf-flat': ivf, 'ivf-pq': ivf, 'ivf-pq-only': ivf, 'ivf-flat-load': ivf, 'ivf-flat-mmap': ivf}.get(kind, [None])
    for v in knobs:
        if kind == 'hnsw': index.hnsw.efSearch = v
        elif kind in ('ivf-flat', 'ivf-pq-only', 'ivf-flat-load', 'ivf-flat-mmap'): index.nprobe = v
        elif kind == 'ivf-pq': faiss.downcast_index(index.base_index).nprobe = v; index.k_factor = 10
        _, I = index.search(q, k)
        rec = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(I, gt)]))
        if rec >= 0.95: break
    return v, rec

def peak_rss_mb():
    "Peak resident memory of this process (VmHWM: unlike `ru_maxrss` it does not inherit the parent's peak across exec)."
    return next(int(l.split()[1]) for l in Path('/proc/self/status').read_text().splitlines() if l.startswith('VmHWM')) / 1024

def rss_parts():
    "Current resident memory split into anonymous (allocated) and file-backed (mapped file pages), in MB."
    st = dict(l.split(':', 1) for l in Path('/proc/self/status').read_text().splitlines() if ':' in l)
    return {k: int(st[k].split()[0]) / 1024 for k in ('RssAnon', 'RssFile')}

def write_ivf(n, nq):
    "Child: build IVF-Flat over the n vectors and write it to scale-work (the file the load/mmap rows read)."
    import faiss
    faiss.omp_set_num_threads(int(os.environ.get('BUILD_THREADS', '1')))
    x, _, _ = dataset(n, nq)
    faiss.write_index(build('ivf-flat', x, n), str(HERE/'scale-work'/f'ivf-flat-{n}.faiss'))

def one_disk(kind, n, nq):
    "Child: load the saved IVF-Flat index fully ('ivf-flat-load') or memory-mapped ('ivf-flat-mmap'); tune and time it."
    import faiss
    faiss.omp_set_num_threads(1)
    q = np.load(HERE/'scale-work'/f'vectors-{n}-{nq}-0.npz')['q']   # only the queries: the vectors stay on disk
    gt = np.load(HERE/'scale-work'/f'gt-{n}-{nq}.npy')
    path = HERE/'scale-work'/f'ivf-flat-{n}.faiss'
    rss0 = peak_rss_mb()
    t = time.perf_counter(); index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP if kind == 'ivf-flat-mmap' else 0); load_s = time.perf_counter() - t
    knob, rec = tune(kind, index, q, gt)
    lat = []
    for i in range(len(q)):
        t = time.perf_counter(); index.search(q[i:i+1], 10); lat.append(time.perf_counter() - t)
    print(json.dumps({'kind': kind, 'n': n, 'build_s': load_s, 'bytes': path.stat().st_size, 'peak_rss_mb': peak_rss_mb(),
                      'rss_before_build_mb': rss0, 'knob': knob, 'recall@10': rec, 'rss_after_search': rss_parts(),
                      'p50_ms': 1000 * float(np.median(lat)), 'p95_ms': 1000 * float(np.quantile(lat, 0.95))}), flush=True)

def one(kind, n, nq):
    "Runs in a child process: build, tune, time. Prints one JSON line."
    import faiss
    faiss.omp_set_num_threads(int(os.environ.get('BUILD_THREADS', '1')))
    x, q, _ = dataset(n, nq)
    gt = np.load(HERE/'scale-work'/f'gt-{n}-{nq}.npy')   # computed by the parent: this process's peak memory is the index's
    rss0 = peak_rss_mb()
    t = time.perf_counter(); index = build(kind, x, n); build_s = time.perf_counter() - t
    peak = peak_rss_mb()
    size = len(faiss.serialize_index(index))
    faiss.omp_set_num_threads(1)
    knob, rec = tune(kind, index, q, gt)
    lat = []
    for i in range(len(q)):
        t = time.perf_counter(); index.search(q[i:i+1], 10); lat.append(time.perf_counter() - t)
    print(json.dumps({'kind': kind, 'n': n, 'build_s': build_s, 'bytes': size, 'peak_rss_mb': peak,
                      'rss_before_build_mb': rss0, 'knob': knob, 'recall@10': rec,
                      'p50_ms': 1000 * float(np.median(lat)), 'p95_ms': 1000 * float(np.quantile(lat, 0.95))}), flush=True)

def main(a):
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    res_f = out/'scale.json'
    res = json.loads(res_f.read_text()) if res_f.is_file() else {'runs': []}
    done = {(r['kind'], r['n']) for r in res['runs']}
    if 'structure' not in res:
        real, _ = real_vectors()
        x, _, sigma = dataset(2 * len(real), a.queries)
        res['structure'] = structure(real, x[len(real):]) | {'sigma': sigma}
    for n in a.sizes:
        gt_f = HERE/'scale-work'/f'gt-{n}-{a.queries}.npy'
        if not gt_f.is_file():
            import faiss
            x, q, _ = dataset(n, a.queries)
            flat = faiss.IndexFlatIP(x.shape[1]); flat.add(x); np.save(gt_f, flat.search(q, 10)[1]); del flat, x
        for kind in a.kinds:
            if (kind, n) in done: continue
            if kind == 'hnsw' and n > a.hnsw_max:
                print(f"skip hnsw at {n:,}: build would take too long on this machine (see --hnsw_max)", flush=True); continue
            if kind in ('ivf-flat-load', 'ivf-flat-mmap') and not (HERE/'scale-work'/f'ivf-flat-{n}.faiss').is_file():
                subprocess.run([sys.executable, __file__, '--write', 'ivf-flat', str(n), '--queries', str(a.queries)], check=True,
                               env={**os.environ, 'BUILD_THREADS': str(a.threads)})
            r = subprocess.run([sys.executable, __file__, '--child', kind, str(n), '--queries', str(a.queries)],
                               capture_output=True, text=True, env={**os.environ, 'BUILD_THREADS': str(a.threads)})
            if r.returncode != 0: print(r.stderr[-2000:]); raise SystemExit(f"{kind} at {n} failed")
            row = json.loads(r.stdout.strip().splitlines()[-1]); res['runs'].append(row)
            print(f"{kind:9s} {n:>9,}: build {row['build_s']:7.1f}s, {row['bytes'] / 2**20:8.1f} MiB, peak RSS {row['peak_rss_mb']:7.0f} MB, "
                  f"recall@10 {row['recall@10']:.3f} (knob {row['knob']}), p50 {row['p50_ms']:.2f} ms, p95 {row['p95_ms']:.2f} ms", flush=True)
            (out/'scale.json').write_text(json.dumps(res, indent=1))
    (out/'scale.md').write_text(markdown(res)); plot(res, out/'scale.png')
    print(markdown(res))

def markdown(res):
    lines = ['# FAISS at scale (384-d vectors)', '', 'Made by `bench/scale.py`. Search: one query at a time, one thread; the search '
             'breadth (HNSW efSearch, IVF nprobe) is the smallest reaching recall@10 >= 0.95 against exact search, or the largest tried. '
             '`ivf-pq` re-ranks with an exact copy of the vectors (`IndexRefineFlat`); `ivf-pq-only` keeps only the 48-byte codes. '
             '`ivf-flat-load` / `ivf-flat-mmap`: the saved IVF-Flat index read back in a fresh process, fully or memory-mapped '
             '(`faiss.IO_FLAG_MMAP`: the inverted lists stay in the file and the OS pages them in on demand); their time column is the load time.', '',
             '| index | vectors | build or load (s) | index size (MiB) | peak RSS (MB; vectors loaded before: RSS) | breadth | recall@10 | p50 (ms) | p95 (ms) |', '|---|---|---|---|---|---|---|---|---|']
    for r in sorted(res['runs'], key=lambda r: (r['kind'], r['n'])):
        mem = f"; after search {r['rss_after_search']['RssAnon']:.0f} anon + {r['rss_after_search']['RssFile']:.0f} file-backed" if 'rss_after_search' in r else ''
        lines.append(f"| {r['kind']} | {r['n']:,} | {r['build_s']:.1f} | {r['bytes'] / 2**20:.1f} | {r['peak_rss_mb']:.0f} ({r['rss_before_build_mb']:.0f}{mem}) | {r['knob']} | "
                     f"{r['recall@10']:.3f} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} |")
    s = res['structure']
    lines += ['', f"Neighbour structure (10%/50%/90% quantiles of the top-1 and top-10 neighbour similarity within 8,391 vectors): real "
              f"{s['real']}, synthetic {s['synthetic']} (noise sigma {s['sigma']:.4f}).", '']
    return '\n'.join(lines)

def plot(res, path):
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    fig, axs = plt.subplots(1, 3, figsize=(13, 3.5))
    for kind in sorted({r['kind'] for r in res['runs']}):
        rs = sorted((r for r in res['runs'] if r['kind'] == kind), key=lambda r: r['n'])
        n = [r['n'] for r in rs]
        axs[0].loglog(n, [r['build_s'] for r in rs], 'o-', label=kind)
        axs[1].loglog(n, [r['bytes'] / 2**20 for r in rs], 'o-', label=kind)
        axs[2].loglog(n, [r['p50_ms'] for r in rs], 'o-', label=kind)
    for ax, t in zip(axs, ('build time (s)', 'index size (MiB)', 'p50 latency (ms), recall@10 >= 0.95 where reached')):
        ax.set(xlabel='vectors', title=t); ax.legend(fontsize=8)
    fig.tight_layout(); fig.savefig(path, dpi=90); plt.close(fig)

if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--child':
        kind, n, nq = sys.argv[2], int(sys.argv[3]), int(sys.argv[5])
        (one_disk if kind in ('ivf-flat-load', 'ivf-flat-mmap') else one)(kind, n, nq); sys.exit()
    if len(sys.argv) > 1 and sys.argv[1] == '--write':
        write_ivf(int(sys.argv[3]), int(sys.argv[5])); sys.exit()
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=str(HERE))
    ap.add_argument('--sizes', type=int, nargs='+', default=[10_000, 100_000, 1_000_000])
    ap.add_argument('--kinds', nargs='+', default=['flat', 'hnsw', 'ivf-flat', 'ivf-pq'])
    ap.add_argument('--queries', type=int, default=500)
    ap.add_argument('--threads', type=int, default=1, help='threads for building (search is timed on one)')
    ap.add_argument('--hnsw_max', type=int, default=100_000, help='largest size at which HNSW is built')
    main(ap.parse_args())
