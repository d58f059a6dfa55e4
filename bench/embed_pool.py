"""Embedding throughput: one process vs sentence-transformers' multi-process pool, on real docs passages.

    .venv/bin/python bench/embed_pool.py            # writes bench/embed_pool.{md,json}
    .venv/bin/python bench/embed_pool.py --n 200    # a quick look

Encodes the first `--n` passages of the docs corpus (title + text, as the index does) with all-MiniLM-L6-v2 three
ways: one process on 1 thread, one process on all cores' threads, and `encode(..., pool=start_multi_process_pool([...]))`
with one single-threaded worker per core (`OMP_NUM_THREADS=1` in the workers). The vectors must agree; the table
gives passages per second and the time the rate implies for a million passages.
"""
import argparse, json, os, platform, time
from pathlib import Path
import numpy as np
import torch
from ragft_nb.data import atomic_write_bytes, load_bundled
from ragft_nb.models import load_embedder
from ragft_nb.encode import passage_text

HERE = Path(__file__).parent

def main(a):
    docs, _ = load_bundled('docs')
    texts = [passage_text(p) for p in docs[:a.n]]
    model, cores, rows = load_embedder(), os.cpu_count(), []
    model.encode(texts[:32], batch_size=32)   # warm-up
    ref = None
    for threads in (1, cores):
        torch.set_num_threads(threads)
        t = time.perf_counter(); v = model.encode(texts, batch_size=32, normalize_embeddings=True); s = time.perf_counter() - t
        ref = v if ref is None else ref
        rows.append({'how': f'one process, {threads} thread(s)', 'seconds': s, 'per_s': len(texts) / s, 'max_abs_diff': float(np.abs(v - ref).max())})
    os.environ['OMP_NUM_THREADS'] = '1'   # read by the spawned workers
    pool = model.start_multi_process_pool(['cpu'] * cores)
    try:
        model.encode(texts[:64], pool=pool, batch_size=32)   # warm-up: the workers load the model
        t = time.perf_counter(); v = model.encode(texts, pool=pool, batch_size=32, chunk_size=64, normalize_embeddings=True); s = time.perf_counter() - t
    finally: model.stop_multi_process_pool(pool)
    rows.append({'how': f'multi-process pool, {cores} workers x 1 thread', 'seconds': s, 'per_s': len(texts) / s, 'max_abs_diff': float(np.abs(v - ref).max())})
    return {'n': len(texts), 'rows': rows, 'env': {'machine': f"{platform.processor() or platform.machine()}, {cores} cores",
            'torch': torch.__version__, 'load_avg_1min_at_end': os.getloadavg()[0], 'date': time.strftime('%Y-%m-%d')}}

def markdown(res):
    lines = ['# Embedding throughput: one process vs the multi-process pool', '',
             f"Made by `bench/embed_pool.py` on {res['env']['date']}: the first {res['n']:,} docs passages (title + text), all-MiniLM-L6-v2, "
             f"batch 32, {res['env']['machine']}; 1-minute load average at the end {res['env']['load_avg_1min_at_end']:.1f}.", '',
             '| how | seconds | passages/s | 1M passages would take (h) | max abs diff vs 1 thread |', '|---|---|---|---|---|']
    for r in res['rows']:
        lines.append(f"| {r['how']} | {r['seconds']:.1f} | {r['per_s']:.1f} | {1e6 / r['per_s'] / 3600:.1f} | {r['max_abs_diff']:.1e} |")
    best = max(res['rows'], key=lambda r: r['per_s'])
    lines += ['', f"Fastest here: {best['how']}. The pool pays off when each worker gets its own device (GPUs) or its own cores; on one "
              "CPU it competes with torch's intra-op threads for the same cores.", '']
    return '\n'.join(lines)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--n', type=int, default=1000)
    ap.add_argument('--out', default=str(HERE))
    a = ap.parse_args()
    res = main(a)
    atomic_write_bytes(Path(a.out)/'embed_pool.json', (json.dumps(res, indent=1) + '\n').encode())
    (Path(a.out)/'embed_pool.md').write_text(markdown(res))
    print(markdown(res))
