"""Robustness to the number of retrieved passages: answer F1 at k = 1, 3, 5 for base + RAG and RAFT + RAG.

    .venv/bin/python bench/raft_k.py --limit 37             # the FAQ test questions; RAFT adapter(s) from bench/raft.py
    .venv/bin/python bench/raft_k.py --quick --out /tmp/rk  # toy size: checks the wiring

The RAFT adapters are the ones `bench/raft.py` trained (`bench/raft-work/raft-seed*/adapter`: gold + 1 hard distractor,
2 passages in a 512-token budget at training time); nothing is trained here. Test questions: the first `--limit` of the
same test list as `bench/raft.py` (FAQ test questions first, then held-out docs questions), dense retrieval over the
docs corpus, greedy decoding. The token budget is the same for every k (`--budget`, large enough for 5 typical
passages), so k changes how many passages compete for the model's attention, not how much text fits.
Answers are cached under `--out`/raft_k-work, so an interrupted run resumes.
"""
import argparse, time
from pathlib import Path
import numpy as np
import torch
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt
from ragft_nb.data import load_bundled, split_qa, write_json
from ragft_nb.models import default_dtype, load_embedder, load_generator
from ragft_nb.retrieve import build_retriever
from ragft_nb.evaluate import answer_records, bootstrap_ci, cached_json, paired_bootstrap, score_answers, verdict

HERE = Path(__file__).parent

def main(a):
    docs, qa = load_bundled('docs')
    by_id, emb = {p['id']: p for p in docs}, load_embedder()
    qs = split_qa(qa)['test'][:a.limit or None]
    retriever = build_retriever(docs, 'dense', embedder=emb)
    work, ks = Path(a.out)/'raft_k-work', [int(k) for k in a.ks.split(',')]
    adapters = sorted((HERE/'raft-work').glob('raft-seed*/adapter'))[:a.seeds]
    if not adapters: raise SystemExit("no RAFT adapter in bench/raft-work: run bench/raft.py first")
    gens = {'base + RAG': [None], 'RAFT + RAG': adapters}
    runs = {}   # (system, k) -> [answers per seed]
    for name, ads in gens.items():
        for i, ad in enumerate(ads):
            model, tok = load_generator(dtype=default_dtype(), adapter=ad)
            for k in ks:
                t = time.time()
                f = work/f"{name.split()[0].lower()}-{i}-k{k}-b{a.budget}-n{len(qs)}.json"
                runs.setdefault((name, k), []).append(cached_json(f, lambda: answer_records(model, tok, qs, retriever, by_id, k, a.budget, a.max_new_tokens, batch_size=8)))
                print(f"{name} {i} k={k}: {time.time() - t:.0f}s", flush=True)
            del model
    scored = {key: [score_answers(qs, r['answers'], by_id, emb, gold_support=True) for r in rs] for key, rs in runs.items()}   # per seed, per question
    rows = {key: [float(np.mean([s[j]['f1'] for s in ss])) for j in range(len(qs))] for key, ss in scored.items()}
    res = {'config': vars(a) | {'questions': len(qs), 'adapters': [str(p.relative_to(HERE)) for p in adapters]},
           'f1': {f"{n} | k={k}": bootstrap_ci(v) for (n, k), v in rows.items()},
           'seconds_per_question': {f"{n} | k={k}": float(np.mean([r['seconds_per_question'] for r in rs])) for (n, k), rs in runs.items()},
           'rows': {f"{n} | k={k}": v for (n, k), v in rows.items()}}
    con = []
    for n in gens:
        d = paired_bootstrap(rows[n, ks[0]], rows[n, ks[-1]])
        con.append(f"{n}: k={ks[-1]} vs k={ks[0]}: F1 {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] → {verdict(d)}")
    for k in ks:
        d = paired_bootstrap(rows['base + RAG', k], rows['RAFT + RAG', k])
        con.append(f"k={k}: RAFT + RAG vs base + RAG: F1 {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] → {verdict(d)}")
    res['conclusions'] = con
    res['env'] = {'torch': torch.__version__, 'threads': torch.get_num_threads(), 'date': time.strftime('%Y-%m-%d')}
    out = Path(a.out)
    write_json(res, out/'raft_k.json')
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for n in gens:
        m = np.array([res['f1'][f"{n} | k={k}"] for k in ks])
        ax.errorbar(ks, m[:, 0], yerr=[m[:, 0] - m[:, 1], m[:, 2] - m[:, 0]], marker='o', capsize=3, label=n)
    ax.set(xlabel='passages in the prompt (k)', ylabel='answer F1 (95% CI)', xticks=ks, title='More passages: help or noise?')
    ax.legend(); fig.tight_layout(); fig.savefig(out/'raft_k.png', dpi=90); plt.close(fig)
    md = [f"# Answer F1 against the number of retrieved passages", '',
          f"Made by `bench/raft_k.py` on {res['env']['date']}: {len(qs)} test questions (the first of `bench/raft.py`'s list), "
          f"dense retrieval over the docs corpus, top k passages in a {a.budget}-token budget, greedy, ≤ {a.max_new_tokens} new tokens; "
          f"RAFT + RAG averaged over {len(adapters)} adapter(s) of `bench/raft.py` (trained with 2 passages, 512 tokens). "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread(s).", '',
          '| system | ' + ' | '.join(f'k={k}' for k in ks) + ' |', '|---|' + '---|' * len(ks)]
    for n in gens:
        md.append(f"| {n} | " + ' | '.join("{:.3f} [{:.2f}, {:.2f}]".format(*res['f1'][f"{n} | k={k}"]) for k in ks) + ' |')
    md += ['', '## Computed conclusions (paired bootstrap over the same questions)', '', *[f"- {c}" for c in con], '']
    (out/'raft_k.md').write_text('\n'.join(md))
    print('\n'.join(md))

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default=str(HERE))
    ap.add_argument('--ks', default='1,3,5', help='passages per prompt, comma-separated')
    ap.add_argument('--budget', type=int, default=1024, help='token budget for the passages, the same for every k')
    ap.add_argument('--max_new_tokens', type=int, default=64)
    ap.add_argument('--limit', type=int, default=100, help='first N test questions (0: all)')
    ap.add_argument('--seeds', type=int, default=1, help='RAFT adapters (seeds) to average over')
    ap.add_argument('--quick', action='store_true', help='4 questions, k = 1,2')
    ap.add_argument('--threads', type=int)
    a = ap.parse_args()
    if a.quick: a.limit, a.ks, a.max_new_tokens = 4, '1,2', 16
    if a.threads: torch.set_num_threads(a.threads)
    main(a)
