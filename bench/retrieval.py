"""Retrieval benchmark: dense FAISS (flat/hnsw/ivf), BM25 and hybrid (RRF) on the Python docs corpus, with
sentence-transformers' `util.semantic_search` as the side-by-side peer for exact dense search.

    .venv/bin/python bench/retrieval.py                  # docs corpus (8,391 passages), writes bench/retrieval.{md,json}
    .venv/bin/python bench/retrieval.py --corpus faq --out /tmp/retrieval_faq

Quality: Recall@1/5/10, MRR@10, nDCG@10 (with a 95% bootstrap interval) on the FAQ valid+test questions, the held-out
docs questions (docs corpus) and all questions.
Speed: index build time (from cached vectors; passage encoding is timed separately), and p50/p95 latency of one query
at a time, end to end (encode the query + search) and for the search alone. The first run encodes the corpus
(minutes on 2 cores); the embedding cache makes later runs fast.
"""
import argparse, json, os, platform, time
from pathlib import Path
import numpy as np
import torch, faiss, bm25s, sentence_transformers
from sentence_transformers import util
from ragft_nb.data import load_bundled, split_qa, atomic_write_bytes
from ragft_nb.evaluate import bootstrap_ci, query_retrieval_metrics, select_split
from ragft_nb.models import load_embedder
from ragft_nb.encode import encode_passages, encode_queries, embedding_cache_path, read_embedding_cache, content_hash, passage_text
from ragft_nb.retrieve import build_faiss_index, build_retriever, search_index, build_bm25, bm25_search, rrf

from ragft_nb.evaluate import retrieval_metrics

METRICS = ('recall@1', 'recall@5', 'recall@10', 'mrr@10', 'ndcg@10')


def latencies(fn, queries, warmup=5):
    "Milliseconds per call of `fn(query)`, one query at a time, after a few warm-up calls."
    for q in queries[:warmup]: fn(q)
    ms = []
    for q in queries: t = time.perf_counter(); fn(q); ms.append((time.perf_counter() - t) * 1e3)
    return ms

def pct(ms): return {'p50_ms': float(np.percentile(ms, 50)), 'p95_ms': float(np.percentile(ms, 95))}

def timed(fn):
    t = time.perf_counter(); out = fn(); return out, time.perf_counter() - t

def overlap(a, b, k=10): return float(np.mean([len({i for i, _ in x[:k]} & {i for i, _ in y[:k]}) / k for x, y in zip(a, b)]))

def run(corpus_name='docs'):
    load_start = os.getloadavg()[0]
    corpus, qa = load_bundled(corpus_name)
    faq_qa = [q for q in qa if 'split' not in q]
    sets = {'FAQ valid+test': select_split(faq_qa, 'valid+test'), 'held-out docs questions': [q for q in qa if q.get('split') == 'test'],
            'all questions': qa}
    sets = {k: v for k, v in sets.items() if v}
    emb = load_embedder()
    cached = read_embedding_cache(embedding_cache_path(emb))
    missing = sum(content_hash(passage_text(p)) not in cached for p in corpus)
    del cached
    vecs, encode_s = timed(lambda: encode_passages(emb, corpus, progress=True))
    questions = [q['question'] for q in qa]
    qvecs = encode_queries(emb, questions)
    ids = [p['id'] for p in corpus]
    res = {'corpus': corpus_name, 'passages': len(corpus), 'questions': {k: len(v) for k, v in sets.items()},
           'encode': {'seconds': encode_s, 'passages_encoded': missing}, 'methods': {}}

    def record(name, hits, build_s, e2e_ms, search_ms, note=''):
        pos = {q['id']: i for i, q in enumerate(qa)}
        res['methods'][name] = {'build_s': build_s, 'latency': pct(e2e_ms), 'search_latency': pct(search_ms), 'note': note,
                                'quality': {s: retrieval_metrics([hits[pos[q['id']]] for q in qs], qs) for s, qs in sets.items()},
                                'ndcg_ci': {s: bootstrap_ci([query_retrieval_metrics([i for i, _ in hits[pos[q['id']]]], set(q['gold_ids']))['ndcg@10']
                                                             for q in qs]) for s, qs in sets.items()}}
        print(f"{name:22} R@1 {res['methods'][name]['quality']['all questions']['recall@1']:.3f}  build {build_s:.3f}s  "
              f"p50 {np.percentile(e2e_ms, 50):.2f}ms", flush=True)

    flat_hits = None
    for kind in ('flat', 'hnsw', 'ivf'):
        _, build_s = timed(lambda: build_faiss_index(vecs, kind))
        r = build_retriever(corpus, 'dense', emb, index_kind=kind)
        hits = r(questions, k=10)
        flat_hits = flat_hits or hits
        dense = r.dense
        e2e = latencies(lambda q: r([q], k=10), questions)
        search = latencies(lambda v: search_index(dense, v[None], 10), list(qvecs))
        idx = dense.index
        if kind == 'hnsw': note = f'M={idx.hnsw.nb_neighbors(1)}, efSearch={idx.hnsw.efSearch}'
        elif kind == 'ivf': note = f'nlist={idx.nlist}, nprobe={idx.nprobe}'
        else: note = 'exact'
        record(f'dense {kind}', hits, build_s, e2e, search, f"{note}; top-10 overlap with flat {overlap(hits, flat_hits):.3f}")

    ce = torch.from_numpy(vecs)
    # the fair peer: vectors are unit length, so a practitioner passes dot_score (the default cos_sim re-normalises the
    # whole corpus on every call); the default is kept, labelled, to show what it costs
    for label, fn in (('semantic_search (ST, dot_score)', util.dot_score), ('semantic_search (ST, default cos_sim)', util.cos_sim)):
        def st_search(qv): return [[(ids[h['corpus_id']], float(h['score'])) for h in hs] for hs in util.semantic_search(qv, ce, top_k=10, score_function=fn)]
        hits = st_search(torch.from_numpy(qvecs))
        e2e = latencies(lambda q: st_search(torch.from_numpy(encode_queries(emb, [q]))), questions)
        search = latencies(lambda v: st_search(torch.from_numpy(v[None])), list(qvecs))
        record(label, hits, 0.0, e2e, search, f"exact, torch; top-10 overlap with flat {overlap(hits, flat_hits):.3f}")

    bm, build_s = timed(lambda: build_bm25(corpus))
    r = build_retriever(corpus, 'bm25')
    search = latencies(lambda q: bm25_search(bm, [q], 10), questions)
    record('bm25', r(questions, k=10), build_s, latencies(lambda q: r([q], k=10), questions), search, 'bm25s, lower-cased \\w+ tokens')

    _, flat_s = timed(lambda: build_faiss_index(vecs, 'flat'))
    r = build_retriever(corpus, 'hybrid', emb)
    e2e = latencies(lambda q: r([q], k=10), questions)
    def fuse(qv): return rrf([search_index(r.dense, qv[1][None], 100)[0], bm25_search(r.bm25, [qv[0]], 100)[0]])[:10]
    search = latencies(fuse, list(zip(questions, qvecs)))
    record('hybrid (flat + bm25)', r(questions, k=10), flat_s + build_s, e2e, search, 'RRF k=60 over top-100 of each')

    flat, st = res['methods']['dense flat'], res['methods']['semantic_search (ST, dot_score)']
    res['st_vs_faiss_flat'] = {'search_p50_ratio': st['search_latency']['p50_ms'] / flat['search_latency']['p50_ms'],
                               'end_to_end_p50_ratio': st['latency']['p50_ms'] / flat['latency']['p50_ms']}
    res['env'] = {'python': platform.python_version(), 'cpus': os.cpu_count(), 'torch_threads': torch.get_num_threads(),
                  'load_avg_1min_at_start': load_start, 'load_avg_1min_at_end': os.getloadavg()[0], 'faiss': faiss.__version__, 'bm25s': bm25s.__version__,
                  'sentence_transformers': sentence_transformers.__version__, 'embedder': emb.ragft_name,
                  'metrics_from': 'ragft_nb.evaluate.retrieval_metrics'}
    return res

def markdown(res):
    out = [f"# Retrieval benchmark: `{res['corpus']}` corpus ({res['passages']:,} passages)", '',
           f"Made by `bench/retrieval.py`. Embedder {res['env']['embedder']} on `title + \\n + text`, unit vectors, "
           f"inner product. Metrics from {res['env']['metrics_from']}.", '']
    for s, n in res['questions'].items():
        out += [f"## Quality: {s} ({n} questions)", '',
                '| method | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 | nDCG@10 95% CI |', '|---|---|---|---|---|---|---|']
        out += [f"| {m} | " + ' | '.join(f"{v['quality'][s][k]:.3f}" for k in METRICS) + f" | [{v['ndcg_ci'][s][1]:.3f}, {v['ndcg_ci'][s][2]:.3f}] |"
                for m, v in res['methods'].items()]
        out.append('')
    out += ['## Speed (one query at a time, all questions)', '',
            '| method | index build (s) | p50 ms | p95 ms | search-only p50 ms | search-only p95 ms | notes |',
            '|---|---|---|---|---|---|---|']
    for m, v in res['methods'].items():
        out.append(f"| {m} | {v['build_s']:.3f} | {v['latency']['p50_ms']:.2f} | {v['latency']['p95_ms']:.2f} | "
                   f"{v['search_latency']['p50_ms']:.3f} | {v['search_latency']['p95_ms']:.3f} | {v['note']} |")
    r, e, enc = res['st_vs_faiss_flat'], res['env'], res['encode']
    out += ['', f"- `semantic_search` with `dot_score` (the fair peer: unit vectors) vs FAISS Flat (p50): search alone {r['search_p50_ratio']:.2f}x the time of FAISS, "
                f"end to end {r['end_to_end_p50_ratio']:.2f}x (query encoding dominates).",
            f"- Latency p50/p95 is end to end: encoding the query with the embedder plus the search (and, for hybrid, "
            f"BM25 and the fusion); search-only starts from the encoded query. Index build times start from cached "
            f"vectors; hybrid = Flat + BM25.",
            f"- Passage encoding in this run: {enc['seconds']:.1f} s ({enc['passages_encoded']:,} passages encoded, the rest "
            f"read from the embedding cache).",
            f"- Machine: {e['cpus']} CPUs; torch and FAISS limited to {e['torch_threads']} thread(s) (one query at a time; "
            f"with other jobs on the machine more threads only fight for the cores); 1-minute load average "
            f"{e['load_avg_1min_at_start']:.1f} at the start and {e['load_avg_1min_at_end']:.1f} at the end (other jobs were "
            f"running, so latencies are upper bounds); python {e['python']}, faiss "
            f"{e['faiss']}, bm25s {e['bm25s']}, sentence-transformers {e['sentence_transformers']}.", '']
    return '\n'.join(out)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--corpus', default='docs', choices=['docs', 'faq'])
    ap.add_argument('--out', default=str(Path(__file__).parent/'retrieval'), help='output path without extension')
    ap.add_argument('--threads', type=int, default=1, help='torch and FAISS threads')
    args = ap.parse_args()
    torch.set_num_threads(args.threads); faiss.omp_set_num_threads(args.threads)
    res = run(args.corpus)
    md = markdown(res)
    print(md)
    atomic_write_bytes(args.out + '.md', md.encode())
    atomic_write_bytes(args.out + '.json', (json.dumps(res, indent=1) + '\n').encode())
