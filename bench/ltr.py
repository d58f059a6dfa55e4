"""The learning-to-rank reranker (step 10) against its first stage and the untrained hybrid, 3 seeds, with paired intervals.

    .venv/bin/python bench/ltr.py            # faq (the main job's size) and docs (the benches' size) + git docs; ~5 min on 2 cores once the docs vectors are cached
    .venv/bin/python bench/ltr.py --quick    # faq only, 1 seed

faq: trains on the 90 FAQ train questions, picks the tree count on the 40 valid ones, tests on the 37 test ones (169 passages).
docs: trains on the 90 FAQ train questions (72 fit, 18 pick the tree count; the fold changes with the seed) over 8,391
passages, tests on the 199 questions of bench/weak_supervision.md (FAQ valid+test and held-out docs); the same trees then
rerank the git documentation (bench/gitdocs.py, 60 questions), a source they never saw. Writes bench/ltr.json and bench/ltr.md.
"""
import argparse, json, time
from pathlib import Path
import numpy as np
from ragft_nb.data import atomic_write_bytes, load_bundled, load_qa, split_qa
from ragft_nb.models import load_embedder
from ragft_nb.retrieve import build_retriever, rrf
from ragft_nb.evaluate import bootstrap_ci, paired_bootstrap, query_retrieval_metrics, select_split, verdict
from ragft_nb.rerank import load_ltr, train_ltr

HERE = Path(__file__).parent

def reorder(first, ltr, depth, fuse=False):
    "Rerank `first`'s top `depth` by the LTR scores (optionally fused with the first stage by RRF)."
    def ret(queries, k=10):
        hits = first(queries, depth)
        out = []
        for h, s in zip(hits, ltr.score_lists(queries, hits)):
            r = [(h[j][0], float(s[j])) for j in np.argsort(-np.asarray(s), kind='stable')]
            out.append((rrf([h, r]) if fuse else r)[:k])
        return out
    return ret

def per_question(ret, qs, m):
    hits = ret([q['question'] for q in qs], 10)
    return [query_retrieval_metrics([p for p, _ in h], set(q['gold_ids']))[m] for h, q in zip(hits, qs)]

def rows(systems, qs):
    "R@1 and nDCG@10 of each system (per-question scores averaged over its seeds), and paired differences against the reference named."
    out = {}
    for name, (runs, ref) in systems.items():
        r = {'seeds': len(runs)}
        for m in ('recall@1', 'ndcg@10'):
            v = np.mean([per_question(x, qs, m) for x in runs], axis=0)
            r[m], r[f'{m}_per_q'] = bootstrap_ci(v), v.tolist()
            if ref: r[f'{m} vs {ref}'] = paired_bootstrap(out[ref][f'{m}_per_q'], v)
        out[name] = r
    return out

def run_corpus(passages, train, valid, test_sets, seeds, depth, work, emb):
    firsts = {'dense': build_retriever(passages, 'dense', emb), 'hybrid': build_retriever(passages, 'hybrid', emb)}
    models, info = {}, {}
    for f, first in firsts.items():
        for s in range(seeds):
            tr, va = (train, valid) if valid else (lambda qs: (qs[:int(.8 * len(qs))], qs[int(.8 * len(qs)):]))(list(np.random.default_rng(s).permutation(train)))
            info[f, s] = train_ltr(passages, tr, first, work/f'{f}_{s}', va, depth=depth, embedder=emb, seed=s)
            models[f, s] = work/f'{f}_{s}'
    return firsts, models, info

def main(a):
    emb, seeds, res, t0 = load_embedder(), 1 if a.quick else 3, {}, time.time()
    work = Path(a.work); work.mkdir(parents=True, exist_ok=True)
    # faq: the main job's size
    passages, qa = load_bundled('faq'); sp = split_qa(qa)
    firsts, models, info = run_corpus(passages, sp['train'], sp['valid'], None, seeds, a.depth, work/'faq', emb)
    ltrs = {k: load_ltr(v, passages, emb) for k, v in models.items()}
    sysm = {'base dense': ([firsts['dense']], None), 'hybrid (RRF)': ([firsts['hybrid']], None),
            f'dense + LTR @{a.depth}': ([reorder(firsts['dense'], ltrs['dense', s], a.depth) for s in range(seeds)], 'base dense'),
            f'hybrid + LTR @{a.depth}': ([reorder(firsts['hybrid'], ltrs['hybrid', s], a.depth) for s in range(seeds)], 'hybrid (RRF)')}
    res['faq'] = {'questions': len(sp['test']), 'rows': rows(sysm, sp['test']),
                  'train_seconds': float(np.mean([i['seconds'] for i in info.values()])), 'trees': [i['trees'] for i in info.values()],
                  'importance': {f: np.mean([info[f, s]['importance'][k] for s in range(seeds)]) for f in ('dense',) for k in info['dense', 0]['importance']} if False else
                                {k: float(np.mean([info['dense', s]['importance'][k] for s in range(seeds)])) for k in info['dense', 0]['importance']}}
    q = sp['test'][:20]; t = time.time(); sysm[f'dense + LTR @{a.depth}'][0][0]([x['question'] for x in q], 10)
    res['faq']['ms_per_query'] = 1000 * (time.time() - t) / len(q)
    print('faq done', f'{time.time() - t0:.0f}s', flush=True)
    if not a.quick:
        passages, qa = load_bundled('docs'); faq = [x for x in qa if x.get('split') != 'test']
        train = split_qa(faq)['train']
        test = select_split(faq, 'valid+test') + [x for x in qa if x.get('split') == 'test']
        firsts, models, info = run_corpus(passages, train, None, None, seeds, a.depth, work/'docs', emb)
        ltrs = {k: load_ltr(v, passages, emb) for k, v in models.items()}
        sysm = {'base dense': ([firsts['dense']], None), 'hybrid (RRF)': ([firsts['hybrid']], None),
                f'dense + LTR @{a.depth}': ([reorder(firsts['dense'], ltrs['dense', s], a.depth) for s in range(seeds)], 'hybrid (RRF)'),
                f'hybrid + LTR @{a.depth}': ([reorder(firsts['hybrid'], ltrs['hybrid', s], a.depth) for s in range(seeds)], 'hybrid (RRF)')}
        res['docs'] = {'questions': len(test), 'rows': rows(sysm, test), 'train_seconds': float(np.mean([i['seconds'] for i in info.values()])),
                       'trees': [i['trees'] for i in info.values()],
                       'importance': {k: float(np.mean([info['hybrid', s]['importance'][k] for s in range(seeds)])) for k in info['hybrid', 0]['importance']}}
        t = time.time(); sysm[f'hybrid + LTR @{a.depth}'][0][0]([x['question'] for x in test[:20]], 10); res['docs']['ms_per_query'] = 1000 * (time.time() - t) / 20
        print('docs done', f'{time.time() - t0:.0f}s', flush=True)
        import sys; sys.path.insert(0, str(HERE)); from gitdocs import build_git_corpus, QA_PATH
        gp = build_git_corpus(); gq = load_qa(QA_PATH)
        gf = {'dense': build_retriever(gp, 'dense', emb), 'hybrid': build_retriever(gp, 'hybrid', emb)}
        gl = {k: load_ltr(v, gp, emb) for k, v in models.items()}
        sysm = {'base dense': ([gf['dense']], None), 'hybrid (RRF)': ([gf['hybrid']], None),
                f'dense + LTR @{a.depth}': ([reorder(gf['dense'], gl['dense', s], a.depth) for s in range(seeds)], 'base dense'),
                f'hybrid + LTR @{a.depth}': ([reorder(gf['hybrid'], gl['hybrid', s], a.depth) for s in range(seeds)], 'hybrid (RRF)')}
        res['git'] = {'questions': len(gq), 'rows': rows(sysm, gq)}
    res['seconds'] = time.time() - t0
    atomic_write_bytes(HERE/'ltr.json', json.dumps(res, indent=1).encode())
    md = markdown(res); atomic_write_bytes(HERE/'ltr.md', md.encode()); print(md)

def markdown(res):
    f = lambda x: f"{x[0]:.3f} [{x[1]:.2f}, {x[2]:.2f}]"
    d = lambda x: f"{x[0]:+.3f} [{x[1]:+.3f}, {x[2]:+.3f}] → {verdict(x)}"
    out = ['# The learning-to-rank reranker (LightGBM LambdaRank) vs its first stage and the hybrid', '']
    for c, r in res.items():
        if c == 'seconds': continue
        out += [f"## {c}: {r['questions']} test questions", '', '| system | seeds | R@1 | nDCG@10 | R@1 vs ref | nDCG@10 vs ref |', '|---|---|---|---|---|---|']
        for name, x in r['rows'].items():
            ref = next((k.split(' vs ')[1] for k in x if k.startswith('ndcg@10 vs ')), None)
            out.append(f"| {name} | {x['seeds']} | {f(x['recall@1'])} | {f(x['ndcg@10'])} | " + (f"{d(x['recall@1 vs ' + ref])} (vs {ref}) | {d(x['ndcg@10 vs ' + ref])} |" if ref else '— | — |'))
        if 'train_seconds' in r: out += ['', f"Training: {r['train_seconds']:.1f} s per seed (features + LightGBM, 2 cores), trees chosen on validation: {r['trees']}; reranking {r['ms_per_query']:.0f} ms per query (one query encoding + BM25 over the corpus + the trees).",
                                        'Feature importance (gain, mean over seeds): ' + ', '.join(f"{k} {v:.0f}" for k, v in sorted(r['importance'].items(), key=lambda kv: -kv[1]))]
        out.append('')
    return '\n'.join(out)

if __name__ == '__main__':
    p = argparse.ArgumentParser(); p.add_argument('--quick', action='store_true'); p.add_argument('--depth', type=int, default=20)
    p.add_argument('--work', default='runs/bench_ltr'); main(p.parse_args())
