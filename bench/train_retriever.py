"""Fine-tuned retriever vs the base embedder on the docs corpus, 3 seeds, 95% intervals and paired bootstrap.

    .venv/bin/python bench/train_retriever.py            # ~30 min on 2 cores (encodes the corpus once per seed)

Training: the FAQ train questions, one hard negative each mined by sentence-transformers' `mine_hard_negatives`
over the docs corpus with the base model (top 30, relative margin 0.05), MNRL, 1 epoch, lr 1e-4, batch 32
(`ragft_nb.train_retriever`). Evaluation on questions never trained on: the FAQ valid+test questions and the
held-out docs questions, dense exact search over the re-encoded corpus. Writes `train_retriever.{md,json}` here.
"""
import json, os, platform, tempfile, time
from pathlib import Path
import numpy as np
import torch
from ragft_nb.data import atomic_write_bytes, load_bundled, split_qa
from ragft_nb.models import load_embedder
from ragft_nb.retrieve import build_retriever
from ragft_nb.evaluate import bootstrap_ci, paired_bootstrap, query_retrieval_metrics, select_split, verdict
from ragft_nb.train_retriever import add_hard_negatives, question_pairs, train_embedder

HERE, SEEDS, METRICS = Path(__file__).parent, 3, ('recall@1', 'ndcg@10')

def rows(model, corpus, questions):
    "Per-question Recall@1 and nDCG@10 of dense retrieval with `model`."
    hits = build_retriever(corpus, 'dense', model)([q['question'] for q in questions], k=10)
    return [query_retrieval_metrics([i for i, _ in h], set(q['gold_ids'])) for h, q in zip(hits, questions)]

def main():
    docs, qa = load_bundled('docs')
    by_id = {p['id']: p for p in docs}
    faq_qa = [q for q in qa if 'split' not in q]
    sets = {'FAQ valid+test': select_split(faq_qa, 'valid+test'), 'held-out docs': [q for q in qa if q.get('split') == 'test']}
    train_q = split_qa(faq_qa)['train']
    t = time.time(); base = load_embedder()
    data = add_hard_negatives(question_pairs(train_q, by_id), base, docs)
    mine_s = time.time() - t
    res = {'train_questions': len(train_q), 'triplets': len(data['triplets']), 'pairs_without_negative': len(data['pairs']),
           'mine_seconds': mine_s, 'sets': {k: len(v) for k, v in sets.items()}, 'base': {}, 'seeds': []}
    all_q = [q for qs in sets.values() for q in qs]
    base_rows = rows(base, docs, all_q)
    print(f"mined in {mine_s:.0f}s: {res['triplets']} triplets, {res['pairs_without_negative']} pairs without a negative", flush=True)
    with tempfile.TemporaryDirectory() as work:
        for seed in range(SEEDS):
            t = time.time()
            m = train_embedder(load_embedder(), data, Path(work)/f'model{seed}', epochs=1, lr=1e-4, batch_size=32, seed=seed)
            train_s = time.time() - t
            r = rows(m, docs, all_q)
            res['seeds'].append({'seed': seed, 'train_seconds': train_s, 'rows': r})
            print(f"seed {seed}: trained in {train_s:.0f}s, nDCG@10 all {np.mean([x['ndcg@10'] for x in r]):.3f}", flush=True)
    lines = ['# Fine-tuned retriever vs the base embedder (docs corpus)', '',
             f"Made by `bench/train_retriever.py`: all-MiniLM-L6-v2 fine-tuned with MNRL on {len(train_q)} FAQ training questions "
             f"({res['triplets']} with a mined hard negative, {res['pairs_without_negative']} as plain pairs; mining took "
             f"{mine_s:.0f} s), 1 epoch, {SEEDS} seeds; dense exact search over the {len(docs):,} re-encoded passages. "
             f"95% bootstrap intervals over questions; per seed, the paired bootstrap of the difference to the base model.", '',
             '| questions | metric | base | fine-tuned (mean ± std over seeds) | per-seed difference [95% CI] → verdict |', '|---|---|---|---|---|']
    n = 0
    for name, qs in sets.items():
        idx = slice(n, n + len(qs)); n += len(qs)
        for k in METRICS:
            b = [x[k] for x in base_rows[idx]]
            ci = bootstrap_ci(b)
            tuned = [[x[k] for x in s['rows'][idx]] for s in res['seeds']]
            diffs = [paired_bootstrap(b, t) for t in tuned]
            res['base'].setdefault(name, {})[k] = ci
            means = [np.mean(t) for t in tuned]
            lines.append(f"| {name} ({len(qs)}) | {k} | {ci[0]:.3f} [{ci[1]:.3f}, {ci[2]:.3f}] | {np.mean(means):.3f} ± {np.std(means, ddof=1):.3f} | "
                         + '; '.join(f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] → {verdict(d)}" for d in diffs) + ' |')
    res['env'] = {'cpus': os.cpu_count(), 'torch': torch.__version__, 'threads': torch.get_num_threads(), 'date': time.strftime('%Y-%m-%d'),
                  'python': platform.python_version()}
    lines += ['', f"Training took {np.mean([s['train_seconds'] for s in res['seeds']]):.0f} s per seed on {res['env']['cpus']} cores "
                  f"(torch {res['env']['torch']}, {res['env']['threads']} threads).", '']
    md = '\n'.join(lines)
    atomic_write_bytes(HERE/'train_retriever.md', md.encode())
    atomic_write_bytes(HERE/'train_retriever.json', (json.dumps(res, indent=1) + '\n').encode())
    print(md)

if __name__ == '__main__': main()
