"""Index maintenance on the docs corpus: an incremental update (only new and edited passages encoded) vs a full rebuild.

    .venv/bin/python bench/freshness.py --threads 1     # ~20 min (the full rebuild re-encodes 8,391 passages); writes bench/freshness.{md,json}

A new version of the docs corpus is made by editing, adding and removing `--share` of the passages each (edits append
a sentence; added passages are copies of random passages under new ids with a new sentence). The update path is
`update_dense_index` (12_freshness): diff by content hash, encode only added and edited passages (the embedding cache
holds the rest), `remove_ids` + `add` on the exact FAISS index. The full rebuild encodes every passage again with the
cache off, as a pipeline without content hashes must. Both indexes answer the 289 bundled questions; `same_top10` is
the share of questions whose top-10 ids are identical.
"""
import argparse, json, os, platform, random, time
from pathlib import Path
import numpy as np
import torch
from ragft_nb.data import atomic_write_bytes, load_bundled
from ragft_nb.models import load_embedder
from ragft_nb.encode import encode_passages, encode_queries
from ragft_nb.retrieve import DenseIndex, build_dense_index, build_faiss_index, passage_hash, search_index
from ragft_nb.freshness import update_dense_index

HERE = Path(__file__).parent

def new_version(docs, share, seed=0):
    "Edit, add and remove `share` of the passages each."
    rng, n = random.Random(seed), max(1, round(share * len(docs)))
    picked = rng.sample(range(len(docs)), 2 * n)
    edit, remove = set(picked[:n]), set(picked[n:])
    out = [{**p, 'text': p['text'] + ' This sentence was added in the new release.'} if i in edit else p
           for i, p in enumerate(docs) if i not in remove]
    return out + [{**docs[i], 'id': f'new-{k}', 'text': docs[i]['text'] + f' New section {k}.'} for k, i in enumerate(rng.sample(range(len(docs)), n))]

def main(a):
    emb = load_embedder()
    docs, qa = load_bundled('docs')
    dense = build_dense_index(docs, emb)                     # the index before the release (vectors from the cache)
    new = new_version(docs, a.share)
    update, report = update_dense_index(dense, new, emb)
    t = time.perf_counter()
    full = DenseIndex(build_faiss_index(encode_passages(emb, new, cache=False, progress=True)), [p['id'] for p in new],
                      dense.model, dense.fingerprint, 'flat', [passage_hash(p) for p in new])
    full_s = time.perf_counter() - t
    Q = encode_queries(emb, [q['question'] for q in qa])
    same = np.mean([[i for i, _ in x] == [i for i, _ in y] for x, y in zip(search_index(update, Q, 10), search_index(full, Q, 10))])
    return {'update': report, 'full': {'passages': len(new), 'encoded': len(new), 'seconds': full_s},
            'speedup': full_s / report['seconds'], 'same_top10': float(same), 'share': a.share, 'questions': len(qa),
            'env': {'machine': f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores", 'torch': torch.__version__,
                    'threads': torch.get_num_threads(), 'load_avg_1min': os.getloadavg()[0], 'date': time.strftime('%Y-%m-%d')}}

def markdown(r):
    u, f = r['update'], r['full']
    return '\n'.join([
        '# Index maintenance: incremental update vs full rebuild', '',
        f"Made by `bench/freshness.py` on {r['env']['date']}: docs corpus, {r['share']:.1%} of the passages edited, "
        f"{r['share']:.1%} added, {r['share']:.1%} removed; exact FAISS index, all-MiniLM-L6-v2, torch {r['env']['torch']} "
        f"({r['env']['threads']} thread(s)) on {r['env']['machine']}, 1-minute load average {r['env']['load_avg_1min']:.1f}.", '',
        '| path | passages encoded | seconds |', '|---|---|---|',
        f"| incremental update (`update_dense_index`) | {u['encoded']} ({u['added']} added + {u['changed']} edited; {u['removed']} removed, {u['unchanged']} unchanged) | {u['seconds']:.1f} |",
        f"| full rebuild (cache off) | {f['encoded']} | {f['seconds']:.1f} |", '',
        f"The update was **{r['speedup']:.0f}x** faster; both indexes return identical top-10 ids for "
        f"{r['same_top10']:.1%} of the {r['questions']} bundled questions.", ''])

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--share', type=float, default=0.005, help='share of passages edited, added and removed (each)')
    ap.add_argument('--threads', type=int)
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    r = main(a)
    md = markdown(r)
    print(md)
    atomic_write_bytes(HERE/'freshness.json', (json.dumps(r, indent=1) + '\n').encode())
    atomic_write_bytes(HERE/'freshness.md', md.encode())
