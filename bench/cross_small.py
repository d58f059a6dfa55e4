"""Why the cross-encoder ranks at chance at the main job's size, and what moves it: the untrained model, ListNet's
label targets (0/1 labels softmaxed vs one-hot), and the number of optimiser steps, on the 90 FAQ training questions.

    .venv/bin/python bench/cross_small.py            # 3 seeds, ~12 min per seed on 2 cores; writes bench/cross_small.{json,md}
    .venv/bin/python bench/cross_small.py --quick    # 1 seed, 2 steps per variant, 8 test questions: checks the wiring

Each cross-encoder reorders the top 20 of dense retrieval (the bundled all-MiniLM-L6-v2) for the 37 FAQ test questions;
the peers are that first stage and a random order of the same 20 candidates (expected metrics over 200 shuffles per
question). ListNet (sentence-transformers' `ListNetLoss`) softmaxes the labels: with 0/1 labels and 5 passages a list,
the gold passage's target share is e/(e+4) = 0.41, so the loss can fall only from ln 5 = 1.609 to 1.50; `label_scale=20`
makes the target one-hot (floor 0). All variants: 4 mined negatives, batch 4 lists, 128 tokens; each is trained once per
seed (head initialisation and data order), and a row's per-question scores are the mean over its seeds (the intervals
are over questions; the per-seed nDCG@10 is listed beside them).
"""
import argparse, time
from pathlib import Path
import numpy as np
from ragft_nb.data import atomic_write_bytes, load_bundled, split_qa, write_json
from ragft_nb.models import load_embedder
from ragft_nb.retrieve import build_retriever, load_reranker, with_reranker
from ragft_nb.evaluate import bootstrap_ci, paired_bootstrap, query_retrieval_metrics, verdict
from ragft_nb.rerank import new_reranker, train_reranker

HERE = Path(__file__).parent
DEPTH, METRICS = 20, ('recall@1', 'ndcg@10')
VARIANTS = {   # name -> train_reranker settings (besides the shared ones)
    '0/1 labels, 2 epochs': dict(epochs=2),
    'one-hot labels, 2 epochs': dict(epochs=2, label_scale=20),
    '0/1 labels, 6 epochs': dict(epochs=6),
    'one-hot labels, 6 epochs': dict(epochs=6, label_scale=20)}
SHARED = dict(loss='listnet', n_negatives=4, batch_size=4, max_length=128, lr=2e-4)

def per_question(hits, qs):
    return {m: [query_retrieval_metrics([p for p, _ in h], set(q['gold_ids']))[m] for h, q in zip(hits, qs)] for m in METRICS}

def random_order(hits, qs, n=200, seed=0):
    "Expected per-question metrics of a random order of each candidate list."
    rng, out = np.random.default_rng(seed), {m: [] for m in METRICS}
    for h, q in zip(hits, qs):
        ms = [query_retrieval_metrics([h[j][0] for j in rng.permutation(len(h))][:10], set(q['gold_ids'])) for _ in range(n)]
        for m in METRICS: out[m].append(float(np.mean([x[m] for x in ms])))
    return out

def over_seeds(per_seed):
    "A row from one `per_question` result per seed: the mean over seeds per question, and each seed's mean nDCG@10."
    return {'scores': {m: np.mean([s[m] for s in per_seed], axis=0).tolist() for m in METRICS},
            'ndcg@10 per seed': [float(np.mean(s['ndcg@10'])) for s in per_seed], 'seeds': len(per_seed)}

def main(a):
    passages, qa = load_bundled('faq'); sp = split_qa(qa); by_id = {p['id']: p for p in passages}
    seeds = range(1 if a.quick else a.seeds)
    test = sp['test'][:8] if a.quick else sp['test']
    dense = build_retriever(passages, 'dense', load_embedder())
    first = dense([q['question'] for q in test], DEPTH)
    rows = {'dense (first stage)': {'scores': per_question(first, test)}, f'random order of the top {DEPTH}': {'scores': random_order(first, test)}}
    work = Path(a.work); work.mkdir(parents=True, exist_ok=True)
    rows['cross-encoder, untrained (0 steps)'] = over_seeds([per_question(with_reranker(dense, new_reranker(max_length=SHARED['max_length'], seed=s), by_id, DEPTH)(
        [q['question'] for q in test], 10), test) for s in seeds])
    for name, kw in VARIANTS.items():
        runs = []
        for s in seeds:
            d, t = work/name.replace('/', '').replace(' ', '-').replace(',', '')/f'seed{s}', time.time()
            info = train_reranker(passages, sp['train'], d, **SHARED, **kw, seed=s, **({'max_steps': 2} if a.quick else {}))
            ret = with_reranker(dense, load_reranker(d), by_id, DEPTH)
            runs.append((per_question(ret([q['question'] for q in test], 10), test), info, time.time() - t))
            print(name, 'seed', s, info['steps'], 'steps', f"{time.time() - t:.0f}s", flush=True)
        rows[f'cross-encoder, {name}'] = over_seeds([r for r, _, _ in runs]) | {
            'steps': runs[0][1]['steps'], 'loss_first': float(np.mean([i['loss_curve'][0] for _, i, _ in runs])),
            'loss_last': float(np.mean([i['loss_curve'][-1] for _, i, _ in runs])), 'train_seconds': float(np.mean([t for _, _, t in runs]))}
    ref, rnd = rows['dense (first stage)']['scores'], rows[f'random order of the top {DEPTH}']['scores']
    for name, r in rows.items():
        for m in METRICS:
            r[m] = bootstrap_ci(r['scores'][m])
            if name.startswith('cross'):
                r[f'{m} vs first stage'] = paired_bootstrap(ref[m], r['scores'][m])
                r[f'{m} vs random order'] = paired_bootstrap(rnd[m], r['scores'][m])
    res = {'questions': len(test), 'train_questions': len(sp['train']), 'seeds': len(seeds), 'shared': SHARED, 'variants': VARIANTS, 'rows': rows,
           'label_target': {'0/1': float(np.e / (np.e + 4)), 'one-hot (x20)': float(np.exp(20) / (np.exp(20) + 4))}}
    res['conclusions'] = [f"{n} vs {ref_}: nDCG@10 {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] → {verdict(d)}"
                          for n, r in rows.items() if n.startswith('cross') for ref_ in ('random order', 'first stage') for d in [r[f'ndcg@10 vs {ref_}']]]
    out = Path(a.out); write_json(res, out/'cross_small.json'); md = markdown(res); atomic_write_bytes(out/'cross_small.md', md.encode()); print(md)

def markdown(res):
    f = lambda x: f"{x[0]:.3f} [{x[1]:.2f}, {x[2]:.2f}]"
    d = lambda x: f"{x[0]:+.3f} [{x[1]:+.3f}, {x[2]:+.3f}] → {verdict(x)}"
    out = ['# The cross-encoder at the main job\'s size: targets and steps', '',
           f"{res['train_questions']} FAQ training questions; {res['questions']} test questions; top {DEPTH} of dense retrieval reordered; "
           f"{res['seeds']} seed(s) per cross-encoder (per-question scores averaged over seeds; losses are the seeds' mean). "
           f"Shared: {res['shared']}. ListNet's target share of the gold passage: 0/1 labels {res['label_target']['0/1']:.3f}, one-hot {res['label_target']['one-hot (x20)']:.3f}.", '',
           '| system | steps | ListNet loss first → last | R@1 | nDCG@10 | nDCG@10 per seed | nDCG@10 vs random order | nDCG@10 vs first stage |', '|---|---|---|---|---|---|---|---|']
    for n, r in res['rows'].items():
        loss = f"{r['loss_first']:.3f} → {r['loss_last']:.3f}" if 'loss_first' in r else '—'
        per = ', '.join(f"{x:.3f}" for x in r['ndcg@10 per seed']) if 'ndcg@10 per seed' in r else '—'
        out.append(f"| {n} | {r.get('steps', '—')} | {loss} | {f(r['recall@1'])} | {f(r['ndcg@10'])} | {per} | "
                   + (f"{d(r['ndcg@10 vs random order'])} | {d(r['ndcg@10 vs first stage'])} |" if 'ndcg@10 vs first stage' in r else '— | — |'))
    return '\n'.join(out + ['']) + '\n'

if __name__ == '__main__':
    p = argparse.ArgumentParser(); p.add_argument('--quick', action='store_true'); p.add_argument('--out', default=str(HERE)); p.add_argument('--seeds', type=int, default=3)
    p.add_argument('--work', default='runs/bench_cross_small'); main(p.parse_args())
