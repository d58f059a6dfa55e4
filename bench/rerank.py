"""A trained cross-encoder reranker on the docs corpus: retrieval with and without it over two first stages, answers, latency.

    .venv/bin/python bench/rerank.py --threads 2            # default size; writes bench/rerank.{md,json,png}
    .venv/bin/python bench/rerank.py --quick --out /tmp/rr  # toy size: checks the wiring in a few minutes

Rerankers: `train_reranker` (step 10) on the FAQ train questions plus `--weak` section-heading pseudo-questions,
negatives mined by the base bi-encoder; `--seeds` seeds with the pointwise loss (BCE); one seed of the listwise loss
(ListNet) and one of BCE without the pseudo-questions, to see what each choice buys. First stages: the base
all-MiniLM-L6-v2 and the MNRL-fine-tuned retriever of step 9 (the models `bench/e2e.py` trained, `bench/e2e-work`,
one per seed). Test: the same first `--limit` test questions as `bench/raft.py` (FAQ test + held-out docs), never
trained on or used for a choice; the filter threshold is picked on the FAQ valid questions (`pick_threshold`).
Answers (top 2 passages in a 512-token budget, greedy, <= 64 new tokens, as `bench/raft.py`): the base generator and
the RAFT adapter of `bench/raft-work` (seed 0), with and without the reranker. Latency: reranking N passages per query
for N in 5..50 and two truncation lengths, against the bound set by this CPU's measured float32 matmul throughput.
Everything is cached under `--out`/rerank-work, so an interrupted run resumes; `--fresh` starts over.
"""
import argparse, json, os, platform, shutil, statistics, time
from pathlib import Path
import numpy as np
import torch
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt
from ragft_nb.data import load_bundled, split_qa, write_json
from ragft_nb.models import default_dtype, load_embedder, load_generator, matmul_gflops
from ragft_nb.encode import passage_text
from ragft_nb.retrieve import build_dense_index, build_retriever, load_reranker, rrf, with_reranker
from ragft_nb.evaluate import answer_records, bootstrap_ci, cached_json, paired_bootstrap, query_retrieval_metrics, score_runs, verdict
from ragft_nb.rerank import pick_threshold, train_reranker

HERE = Path(__file__).parent
RAFT_SETTINGS = {'k': 2, 'budget': 512, 'max_new_tokens': 64}
METRICS = ('recall@1', 'recall@10', 'ndcg@10')

def rows(hits, qs): return [query_retrieval_metrics([p for p, _ in h], set(q['gold_ids'])) for h, q in zip(hits, qs)]

def scores_for(model, qs, hits, by_id, path):
    "Cross-encoder score of every (question, hit) pair, cached in `path` as `{'qid\\tpid': score}`."
    cache = json.loads(Path(path).read_text()) if Path(path).is_file() else {}
    todo = list(dict.fromkeys((q['id'], pid) for q, h in zip(qs, hits) for pid, _ in h if f"{q['id']}\t{pid}" not in cache))
    if todo:
        text = {q['id']: q['question'] for q in qs}
        s = model.predict([(text[i], passage_text(by_id[p])) for i, p in todo], batch_size=32, show_progress_bar=len(todo) > 500)
        cache |= {f'{i}\t{p}': float(x) for (i, p), x in zip(todo, s)}
        write_json(cache, path)
    return cache

def reorder(qs, hits, cache, depth):
    "The first stage's top `depth` hits of each question, sorted by cached reranker score (stable, as `with_reranker`)."
    out = []
    for q, h in zip(qs, hits):
        s = np.array([cache[f"{q['id']}\t{p}"] for p, _ in h[:depth]])
        out.append([(h[j][0], float(s[j])) for j in np.argsort(-s, kind='stable')])
    return out

def latency(model, qs, hits, by_id, ns, reps=1):
    "Median seconds to rerank N passages of one query, and the FLOP bound, per N (this model's max_length)."
    cfg, gflops = model.model.config, matmul_gflops()
    params = sum(p.numel() for n, p in model.model.named_parameters() if 'embeddings' not in n)
    out = {}
    for n in ns:
        times, flops = [], []
        for q, h in zip(qs, hits):
            pairs = [(q['question'], passage_text(by_id[p])) for p, _ in h[:n]]
            toks = model.tokenizer(pairs, truncation=True, max_length=model.max_length, padding=True)['input_ids']
            T, B = len(toks[0]), len(toks)
            flops.append(B * (2 * params * T + cfg.num_hidden_layers * 4 * T * T * cfg.hidden_size))
            for _ in range(reps):
                t = time.perf_counter(); model.predict(pairs, batch_size=64, show_progress_bar=False); times.append(time.perf_counter() - t)
        out[n] = {'p50_s': statistics.median(times), 'bound_s': statistics.median(flops) / (gflops * 1e9), 'gflop': statistics.median(flops) / 1e9}
    return out, gflops

def main(a):
    out, work = Path(a.out), Path(a.out)/'rerank-work'
    if a.fresh: shutil.rmtree(work, ignore_errors=True)
    RUN_ONLY = ('out', 'threads', 'fresh')
    config = {k: v for k, v in vars(a).items() if k not in RUN_ONLY}
    if (work/'config.json').is_file() and {k: v for k, v in json.loads((work/'config.json').read_text()).items() if k not in RUN_ONLY} != config:
        raise SystemExit(f"{work} holds a run with another configuration: pass --fresh to start over")
    write_json(config, work/'config.json')
    docs, qa = load_bundled('faq' if a.quick else 'docs')
    by_id, emb = {p['id']: p for p in docs}, load_embedder()
    split = split_qa(qa)
    train, valid, qs = split['train'][:a.train_limit], split['valid'][:a.train_limit], split['test'][:a.limit]
    D = max(a.depths)
    first = {'base': build_retriever(docs, 'dense', emb, dense_index=build_dense_index(docs, emb))}
    e2e_work = HERE/'e2e-work'
    for s in range(a.seeds):
        if not a.quick and (e2e_work/f'mnrl-seed{s}'/'config.json').is_file():
            first[f'MNRL seed {s}'] = build_retriever(docs, 'dense', load_embedder(str(e2e_work/f'mnrl-seed{s}')))
    hits = {n: cached_json(work/f"hits-{n.replace(' ', '-')}.json", lambda: r([q['question'] for q in qs + valid], D)) for n, r in first.items()}
    hits = {n: ([[tuple(x) for x in h] for h in v[:len(qs)]], [[tuple(x) for x in h] for h in v[len(qs):]]) for n, v in hits.items()}
    other = 'bce' if a.loss == 'listnet' else 'listnet'
    runs = [(a.loss, a.weak, s) for s in range(a.seeds)] + [(other, a.weak, 0), (a.loss, 0, 0)]
    R = {'retrieval': {'base': [rows(hits['base'][0], qs)]}, 'train': {}, 'answers': {}}
    mnrl = [n for n in first if n.startswith('MNRL')]
    if mnrl: R['retrieval']['MNRL retriever'] = [rows(hits[n][0], qs) for n in mnrl]
    for loss, weak, s in runs:
        name = f"{loss}{'' if weak else '-noweak'}-seed{s}"
        d = work/name
        m = cached_json(d.with_name(name + '-train.json'), lambda: train_reranker(docs, train, d, loss, weak, epochs=a.epochs, max_steps=a.max_steps,
                                                                                 lr=a.lr, max_length=a.max_length, seed=s))
        print(f"reranker {name}: {m['examples']} examples, {m['seconds']:.0f}s", flush=True)
        label = ('ListNet' if loss == 'listnet' else 'BCE') + (' + headings' if weak else ', questions only')
        R['train'].setdefault(label, []).append(m)
        model = load_reranker(d)
        firsts = ['base'] + ([f'MNRL seed {s}'] if f'MNRL seed {s}' in first and loss == a.loss and weak else [])
        main = loss == a.loss and weak and s == 0   # the reranker the threshold, the deeper reranking and the answers use
        for fs in firsts:
            n_q = len(qs) + (len(valid) if main and fs == 'base' else 0)
            hs = [h[:max(a.depths) if main else min(a.depths)] for h in (hits[fs][0] + hits[fs][1])[:n_q]]
            cache = scores_for(model, (qs + valid)[:n_q], hs, by_id, work/f"scores-{name}-{fs.split()[0]}.json")
            for depth in (a.depths if main else [min(a.depths)]):
                key = f"{'base' if fs == 'base' else 'MNRL'} + {label} @{depth}"
                rr_hits = reorder(qs, hits[fs][0], cache, depth)
                R['retrieval'].setdefault(key, []).append(rows(rr_hits, qs))
                if loss == a.loss and weak and depth == min(a.depths):   # `with_reranker(fuse=True)`: both rankings vote
                    fused = [rrf([h[:depth], r]) for h, r in zip(hits[fs][0], rr_hits)]
                    R['retrieval'].setdefault(key + ' fused (RRF)', []).append(rows(fused, qs))
            if main and fs == 'base':   # the library path gives the same order
                lib = with_reranker(first[fs], model, by_id, depth=min(a.depths))([q['question'] for q in qs[:3]], k=min(a.depths))
                assert [[p for p, _ in h] for h in lib] == [[p for p, _ in h] for h in reorder(qs[:3], hits[fs][0], cache, min(a.depths))]
    # threshold and answers: the seed-0 BCE + headings reranker
    d0, depth = work/f'{a.loss}-seed0', min(a.depths)
    model = load_reranker(d0)
    cache = json.loads((work/f'scores-{a.loss}-seed0-base.json').read_text())   # scored above
    thr, fb = pick_threshold(reorder(valid, hits['base'][1], cache, depth)[:], valid) if valid else (None, 0.0)
    thr_cut = lambda hs: [h[:1] + [x for x in h[1:RAFT_SETTINGS['k']] if thr is None or x[1] >= thr] for h in hs]
    R['threshold'] = {'value': thr, 'f2_valid': fb}
    raft_work = HERE/'raft-work'
    raft_ok = (raft_work/'config.json').is_file() and all(json.loads((raft_work/'config.json').read_text()).get(k) == v
                                                         for k, v in (RAFT_SETTINGS | {'limit': a.limit}).items())
    def fixed(hs):   # a retriever that returns precomputed hits for the test questions, in order
        m = {q['question']: h for q, h in zip(qs, hs)}
        return lambda queries, k=10: [m[x][:k] for x in queries]
    def answers(adapter, hs, path):
        def make():
            model_g, tok = load_generator(adapter=adapter)
            return answer_records(model_g, tok, qs, fixed(hs), by_id, RAFT_SETTINGS['k'], RAFT_SETTINGS['budget'], RAFT_SETTINGS['max_new_tokens'], batch_size=8)
        return cached_json(path, make)
    base_rr = reorder(qs, hits['base'][0], cache, depth)
    if a.no_answers: raft_ok = False
    R['answers']['base + RAG'] = [] if a.no_answers else [answers(None, hits['base'][0], raft_work/'base-rag.json' if raft_ok else work/'base-rag.json')]
    if not a.no_answers:
        R['answers']['base + RAG + reranker'] = [answers(None, base_rr, work/'answers-base-rerank.json')]
        R['answers']['base + RAG + reranker + filter'] = [answers(None, thr_cut(base_rr), work/'answers-base-rerank-filter.json')]
    R['answers'] = {k: v for k, v in R['answers'].items() if v}
    if raft_ok and 'MNRL seed 0' in first and (raft_work/'raft-seed0'/'adapter').is_dir():
        c1 = json.loads((work/f'scores-{a.loss}-seed0-MNRL.json').read_text())   # scored above
        R['answers']['two-stage (MNRL + RAFT)'] = [json.loads((e2e_work/'mnrl-seed0-answers.json').read_text())]
        R['answers']['RAFT + MNRL + reranker'] = [answers(raft_work/'raft-seed0'/'adapter', reorder(qs, hits['MNRL seed 0'][0], c1, depth),
                                                          work/'answers-raft-mnrl-rerank.json')]
    lat_q = qs[:a.latency_queries]
    R['latency'] = {}
    for ml in (128, 256):
        m = load_reranker(d0, max_length=ml)
        lat, gf = latency(m, lat_q, hits['base'][0], by_id, [n for n in (5, 10, 20, 50) if n <= D])
        R['latency'][ml] = {str(n): v for n, v in lat.items()}
        R['gflops'] = gf
    return summarise(R, qs, by_id, emb, a, config)

def fmt(d): return f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] → {verdict(d)}"

def summarise(R, qs, by_id, emb, a, config):
    res = {'config': config, 'n_questions': len(qs), 'n_passages': len(by_id), 'retrieval': {}, 'answers': {}, 'train': {},
           'threshold': R['threshold'], 'latency': R['latency'], 'gflops_fp32': R['gflops']}
    ref = {'base': R['retrieval']['base'][0]}
    if 'MNRL retriever' in R['retrieval']: ref['MNRL'] = R['retrieval']['MNRL retriever']
    for name, runs in R['retrieval'].items():
        avg = [{k: float(np.mean([r[i][k] for r in runs])) for k in METRICS} for i in range(len(qs))]
        row = {m: bootstrap_ci([r[m] for r in avg]) for m in METRICS} | {'seeds': len(runs)}
        if name != 'base':
            row['vs_base'] = paired_bootstrap([r['ndcg@10'] for r in ref['base']], [r['ndcg@10'] for r in avg])
            row['r1_vs_base'] = paired_bootstrap([r['recall@1'] for r in ref['base']], [r['recall@1'] for r in avg])
        if name.startswith('MNRL +'):
            m_avg = [float(np.mean([r[i]['ndcg@10'] for r in ref['MNRL'][:len(runs)]])) for i in range(len(qs))]
            row['vs_first_stage'] = paired_bootstrap(m_avg, [r['ndcg@10'] for r in avg])
        elif name.startswith('base +'): row['vs_first_stage'] = row['vs_base']
        res['retrieval'][name] = row
    for name, runs in R['answers'].items():
        summ = score_runs(qs, runs, by_id, emb, gold_support=True); avg = summ.pop('rows')
        res['answers'][name] = {'summary': summ, 'scores': avg, 'seeds': len(runs), 'seconds_per_question': runs[0].get('seconds_per_question')}
    for name, ms in R['train'].items():
        res['train'][name] = {'seconds': [m['seconds'] for m in ms], 'examples': ms[0]['examples'], 'weak': ms[0]['weak'],
                              'loss_curve': [m['loss_curve'] for m in ms]}
    res['conclusions'] = conclusions(res)
    res['env'] = {'machine': f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores", 'torch': torch.__version__,
                  'threads': torch.get_num_threads(), 'load_avg_1min_at_end': os.getloadavg()[0], 'date': time.strftime('%Y-%m-%d')}
    return res

def conclusions(res):
    out, Rt, A = [], res['retrieval'], res['answers']
    best = max((n for n in Rt), key=lambda n: Rt[n]['ndcg@10'][0])
    out.append(f"best retrieval: **{best}**, R@1 {Rt[best]['recall@1'][0]:.3f}, nDCG@10 {Rt[best]['ndcg@10'][0]:.3f} "
               f"(targets R@1 ≥ 0.70: {'met' if Rt[best]['recall@1'][0] >= .70 else 'missed'}; nDCG@10 ≥ 0.82: "
               f"{'met' if Rt[best]['ndcg@10'][0] >= .82 else 'missed'})")
    for n, r in Rt.items():
        if 'vs_first_stage' in r: out.append(f"**{n}** vs its first stage, nDCG@10: {fmt(r['vs_first_stage'])}")
    if 'MNRL retriever' in Rt: out.append(f"**MNRL retriever** vs base, nDCG@10: {fmt(Rt['MNRL retriever']['vs_base'])}")
    for x, y in (('base + RAG', 'base + RAG + reranker'), ('base + RAG + reranker', 'base + RAG + reranker + filter'),
                 ('two-stage (MNRL + RAFT)', 'RAFT + MNRL + reranker'), ('base + RAG', 'RAFT + MNRL + reranker')):
        if x in A and y in A:
            d = paired_bootstrap([r['f1'] for r in A[x]['scores']], [r['f1'] for r in A[y]['scores']])
            out.append(f"**{y}** vs **{x}** (answer F1): {fmt(d)}")
    for ml, lat in res['latency'].items():
        r = lat.get('20')
        if r: out.append(f"reranking 20 passages at max_length {ml}: {r['p50_s'] * 1000:.0f} ms per query (p50), "
                         f"{r['p50_s'] / r['bound_s']:.1f}× the FLOP bound of {r['bound_s'] * 1000:.0f} ms "
                         f"(target within 2×: {'met' if r['p50_s'] <= 2 * r['bound_s'] else 'missed'})")
    for n, t in res['train'].items():
        out.append(f"training, {n}: {np.mean(t['seconds']) / 60:.1f} min per seed ({t['examples']:,} examples; target ≤ 10 min: "
                   f"{'met' if max(t['seconds']) <= 600 else 'missed'})")
    return out

def markdown(res):
    c, Rt, A = res['config'], res['retrieval'], res['answers']
    th = res['threshold']
    lines = ['# A trained reranker (docs corpus)', '',
             f"Made by `bench/rerank.py` on {res['env']['date']}: {res['n_questions']} test questions (FAQ test + held-out docs) over "
             f"{res['n_passages']:,} passages. Cross-encoders from the MiniLM weights, max_length {c['max_length']}, {c['epochs']} epoch(s), lr {c['lr']:g}, "
             f"batch 16, 4 mined negatives per question; 'headings' adds {c['weak']} section-heading pseudo-questions. "
             f"`@N`: the first stage's top N reranked. Intervals: 95% bootstrap over questions (seed-averaged scores).", '',
             '## Retrieval (test)', '', '| system | seeds | R@1 | R@10 | nDCG@10 | nDCG@10 vs its first stage [95% CI] |', '|---|---|---|---|---|---|']
    for name, r in Rt.items():
        lines.append(f"| {name} | {r['seeds']} | " + ' | '.join(f"{r[m][0]:.3f} [{r[m][1]:.2f}, {r[m][2]:.2f}]" for m in METRICS)
                     + f" | {fmt(r['vs_first_stage']) if 'vs_first_stage' in r else '—'} |")
    lines += ['', f"Filter threshold picked on the FAQ valid questions: " +
              (('none (no gold passage below rank 1)' if th['value'] is None else format(th['value'], '.3f')) + f" (F2 {th['f2_valid']:.2f})."), '',
              '## Answers (test, top 2 passages, base SmolLM2 unless RAFT)', '']
    if not A: lines += ["Not run (`--no_answers`). Answers with a reranker that beats its first stage are in `bench/weak_supervision.md`."]
    else: lines += ['| system | F1 | ROUGE-L | semantic sim. | cites gold | loops | s/question |', '|---|---|---|---|---|---|---|']
    for name, r in A.items():
        s = r['summary']
        lines.append(f"| {name} | " + ' | '.join(f"{s[k][0]:.3f} [{s[k][1]:.2f}, {s[k][2]:.2f}]" for k in ('f1', 'rouge_l', 'semantic'))
                     + f" | {s['cites_gold']:.1%} | {s['loop']:.1%} | {r['seconds_per_question'] or float('nan'):.2f} |")
    lines += ['', f"## Latency of reranking one query (fp32, {res['env']['threads']} thread(s); matmul throughput {res['gflops_fp32']:.0f} GFLOP/s)", '',
              '| max_length | N passages | p50 ms | FLOP bound ms | GFLOP | ratio |', '|---|---|---|---|---|---|']
    for ml, lat in res['latency'].items():
        for n, r in lat.items():
            lines.append(f"| {ml} | {n} | {r['p50_s'] * 1000:.0f} | {r['bound_s'] * 1000:.0f} | {r['gflop']:.1f} | {r['p50_s'] / r['bound_s']:.1f}× |")
    lines += ['', '## Computed conclusions', '', *[f"- {x}" for x in res['conclusions']], '',
              f"Machine: {res['env']['machine']}, torch {res['env']['torch']} ({res['env']['threads']} thread(s)); "
              f"1-minute load average at the end {res['env']['load_avg_1min_at_end']:.1f}. Plot: `rerank.png`.", '']
    return '\n'.join(lines)

def plot(res, path):
    fig, axs = plt.subplots(1, 2, figsize=(11, 3.6))
    Rt = res['retrieval']
    names = list(Rt)
    v = [Rt[n]['ndcg@10'] for n in names]
    axs[0].barh(range(len(names)), [x[0] for x in v], xerr=[[x[0] - x[1] for x in v], [x[2] - x[0] for x in v]], color='C0', alpha=.7)
    axs[0].set_yticks(range(len(names)), names, fontsize=7); axs[0].invert_yaxis(); axs[0].set(xlabel='test nDCG@10 (95% CI)')
    for ml, lat in res['latency'].items():
        ns = [int(n) for n in lat]
        axs[1].plot(ns, [lat[str(n)]['p50_s'] * 1000 for n in ns], 'o-', label=f'measured, max_length {ml}')
        axs[1].plot(ns, [lat[str(n)]['bound_s'] * 1000 for n in ns], ':', label=f'FLOP bound, {ml}')
    axs[1].set(xlabel='passages reranked per query (N)', ylabel='ms per query', title='reranking latency'); axs[1].legend(fontsize=7)
    fig.tight_layout(); fig.savefig(path, dpi=90); plt.close(fig)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=str(HERE))
    ap.add_argument('--seeds', type=int, default=3)
    ap.add_argument('--weak', type=int, default=500, help='section-heading pseudo-questions added to the training questions')
    ap.add_argument('--max_steps', type=int, default=-1)
    ap.add_argument('--loss', default='listnet', help='the main loss (3 seeds); the other gets one seed')
    ap.add_argument('--epochs', type=int, default=2)
    ap.add_argument('--lr', type=float, default=2e-4)
    ap.add_argument('--no_answers', action='store_true', help='retrieval and latency only')
    ap.add_argument('--max_length', type=int, default=128, help='tokens of question + passage, in training and reranking (the latency table also times 256)')
    ap.add_argument('--depths', type=lambda s: [int(x) for x in s.split(',')], default=[20, 50])
    ap.add_argument('--limit', type=int, default=100)
    ap.add_argument('--train_limit', type=int, default=None)
    ap.add_argument('--latency_queries', type=int, default=20)
    ap.add_argument('--quick', action='store_true')
    ap.add_argument('--fresh', action='store_true')
    ap.add_argument('--threads', type=int)
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    if a.quick: a.seeds, a.weak, a.max_steps, a.limit, a.train_limit, a.depths, a.latency_queries = 1, 20, 3, 6, 8, [5, 10], 2
    res = main(a)
    out = Path(a.out)
    write_json({k: v for k, v in res.items()}, out/'rerank.json')
    (out/'rerank.md').write_text(markdown(res))
    plot(res, out/'rerank.png')
    print(markdown(res))
