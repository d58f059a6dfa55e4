"""End-to-end training (REPLUG-LSR + RA-DIT alternation) vs the two-stage pipeline vs base + RAG, on the docs corpus.

    .venv/bin/python bench/e2e.py --threads 2                   # default size, 3 seeds; writes bench/e2e.{md,json,png}
    .venv/bin/python bench/e2e.py --only_seed 2 --threads 1     # (a second shell: one seed in parallel; then re-run)
    .venv/bin/python bench/e2e.py --quick --out /tmp/e2e        # toy size: checks the wiring in a few minutes

Test questions: the same first `--limit` test questions as `bench/raft.py` (FAQ test + held-out docs questions),
never trained on. Systems:
- **base**: all-MiniLM-L6-v2 over the docs corpus, base SmolLM2-135M-Instruct (answers from `bench/raft-work` when
  `bench/raft.py` ran with the same settings, else generated here);
- **LSR retriever** (`run_e2e(generator_steps=0)`): the query encoder trained on the frozen base generator's answer
  likelihoods only, no gold labels; retrieval is scored;
- **end-to-end** (`run_e2e`): `--rounds` alternations of LSR on the query side and LoRA on the generator with the
  passages the current retriever returns; retrieval and answers are scored;
- **two-stage**: the retriever fine-tuned with MNRL on (question, gold passage) pairs with a mined hard negative
  (step 9; the corpus re-encoded with it) and the RAFT adapter of `bench/raft-work` of the same seed (step 8), each
  trained alone;
- **RAFT + base retriever** (from `bench/raft-work`), for reference.
Answers: top 2 passages in a 512-token budget, greedy, <= 64 new tokens, as `bench/raft.py`. Intervals: 95%
bootstrap over questions on seed-averaged scores; paired bootstraps per seed for the retrieval target.
Everything is cached under `--out`/e2e-work, so an interrupted run resumes; `--fresh` starts over.
"""
import argparse, json, os, platform, shutil, time
from pathlib import Path
import numpy as np
import torch
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt
from ragft_nb.data import load_bundled, split_qa, write_json
from ragft_nb.models import attach_passage_encoder, default_dtype, load_embedder, load_generator
from ragft_nb.retrieve import build_dense_index, build_retriever
from ragft_nb.evaluate import answer_records, bootstrap_ci, cached_json, paired_bootstrap, query_retrieval_metrics, score_runs, verdict
from ragft_nb.finetune import FinetuneConfig
from ragft_nb.train_retriever import train_retriever
from ragft_nb.end_to_end import run_e2e

HERE = Path(__file__).parent
RAFT_SETTINGS = {'k': 2, 'budget': 512, 'max_new_tokens': 64}               # what the cached raft-work answers used

def retrieval_rows(retriever, qs):
    hits = retriever([q['question'] for q in qs], 10)
    return [query_retrieval_metrics([p for p, _ in h], set(q['gold_ids'])) for h, q in zip(hits, qs)]

def main(a):
    out, work = Path(a.out), Path(a.out)/'e2e-work'
    if a.fresh: shutil.rmtree(work, ignore_errors=True)
    RUN_ONLY = ('out', 'threads', 'fresh', 'only_seed', 'seeds', 'two_stage', 'two_stage_seeds')
    config = {k: v for k, v in vars(a).items() if k not in RUN_ONLY}
    if (work/'config.json').is_file() and {k: v for k, v in json.loads((work/'config.json').read_text()).items() if k not in RUN_ONLY} != config:
        raise SystemExit(f"{work} holds a run with another configuration: pass --fresh to start over")
    write_json(config, work/'config.json')
    docs, qa = load_bundled('docs')
    by_id, emb = {p['id']: p for p in docs}, load_embedder()
    split = split_qa(qa)
    qs = split['test'][:a.limit or None]
    dense = build_dense_index(docs, emb)
    base_ret = build_retriever(docs, 'dense', emb, dense_index=dense)
    raft_work = HERE/'raft-work'
    raft_ok = (raft_work/'config.json').is_file() and all(json.loads((raft_work/'config.json').read_text()).get(k) == v
                                                         for k, v in (RAFT_SETTINGS | {'limit': a.limit}).items())
    gcfg = FinetuneConfig(batch_size=4, lr=1e-3, rank=8)   # RAFT's settings in bench/raft.py
    seeds = range(a.seeds) if a.only_seed is None else [a.only_seed]
    R = {'retrieval': {'base': [retrieval_rows(base_ret, qs)]}, 'answers': {}, 'train': {}}

    def answers_with(model_adapter, retriever, path):
        def make():
            model, tok = load_generator(adapter=model_adapter)
            return answer_records(model, tok, qs, retriever, by_id, RAFT_SETTINGS['k'], RAFT_SETTINGS['budget'], RAFT_SETTINGS['max_new_tokens'], batch_size=8)
        return cached_json(path, make)

    R['answers']['base + RAG'] = [answers_with(None, base_ret, raft_work/'base-rag.json' if raft_ok else work/'base-rag.json')]
    score_cache = work/f'base-scores-k{a.k}-t{a.score_tokens}.json'
    for seed in seeds:
        for kind, gsteps in (('LSR retriever', 0), ('end-to-end', a.generator_steps)):
            d = work/f"{'lsr' if gsteps == 0 else 'e2e'}-seed{seed}"
            t = time.time()
            m = cached_json(d/'metrics.json', lambda: run_e2e('docs', None, d, a.rounds, a.retriever_steps, gsteps, a.k, 2,
                          cfg=gcfg, max_context_tokens=512, score_tokens=a.score_tokens, limit=a.train_limit,
                          n_probe=a.n_probe, n_texts=a.n_texts, score_cache=score_cache, seed=seed))
            print(f"{kind} seed {seed}: trained ({m['seconds']:.0f}s; {time.time() - t:.0f}s here)", flush=True)
            q = attach_passage_encoder(load_embedder(str(d/'retriever')), emb)
            ret = build_retriever(docs, 'dense', q, dense_index=dense)
            R['retrieval'].setdefault(kind, []).append(cached_json(d/'test-retrieval.json', lambda: retrieval_rows(ret, qs)))
            R['train'].setdefault(kind, []).append(m)
            if gsteps: R['answers'].setdefault(kind, []).append(answers_with(d/'adapter', ret, d/'test-answers.json'))
        if a.two_stage and seed < (a.two_stage_seeds or a.seeds) and raft_ok and (raft_work/f'raft-seed{seed}'/'adapter').is_dir():
            t, d, f = time.time(), work/f'mnrl-seed{seed}', work/f'mnrl-seed{seed}-train.json'
            if not f.is_file():   # no finished training on record: what was made with an unrecorded model goes too
                for x in ('-retrieval.json', '-answers.json'): (work/f'mnrl-seed{seed}{x}').unlink(missing_ok=True)
            m = cached_json(f, lambda: train_retriever(docs, split['train'][:a.train_limit], d, seed=seed))   # mined among the top 30, as step 9
            mnrl = load_embedder(str(d))
            t_enc = time.time()
            ret = build_retriever(docs, 'dense', mnrl)   # the corpus re-encoded with the fine-tuned model (cached per fingerprint)
            enc = cached_json(work/f'mnrl-seed{seed}-reencode.json', lambda: {'seconds': time.time() - t_enc, 'passages': len(docs)})
            R['retrieval'].setdefault('MNRL retriever', []).append(cached_json(d.with_name(d.name + '-retrieval.json'), lambda: retrieval_rows(ret, qs)))
            R['answers'].setdefault('two-stage (MNRL + RAFT)', []).append(
                answers_with(raft_work/f'raft-seed{seed}'/'adapter', ret, d.with_name(d.name + '-answers.json')))
            raft_s = json.loads((raft_work/f'raft-seed{seed}'/'metrics.json').read_text())['seconds']
            R['train'].setdefault('two-stage (MNRL + RAFT)', []).append({'seconds': m['seconds'] + raft_s, 'retriever_seconds': m['seconds'],
                                                                          'reencode_seconds': enc['seconds']})
            print(f"two-stage seed {seed}: done ({time.time() - t:.0f}s)", flush=True)
        if raft_ok and (raft_work/f'raft-seed{seed}-rag.json').is_file():
            R['answers'].setdefault('RAFT + RAG', []).append(json.loads((raft_work/f'raft-seed{seed}-rag.json').read_text()))
            R['train'].setdefault('RAFT + RAG', []).append(json.loads((raft_work/f'raft-seed{seed}'/'metrics.json').read_text()))
    if a.only_seed is not None: return None
    return summarise_all(R, qs, by_id, emb, a, config)

def summarise_all(R, qs, by_id, emb, a, config):
    res = {'config': config | {'seeds': a.seeds}, 'n_questions': len(qs), 'n_passages': len(by_id), 'retrieval': {}, 'answers': {}, 'train': {}}
    base = R['retrieval']['base'][0]
    for name, runs in R['retrieval'].items():
        avg = [{k: float(np.mean([r[i][k] for r in runs])) for k in runs[0][i]} for i in range(len(qs))]
        row = {m: bootstrap_ci([r[m] for r in avg]) for m in ('recall@1', 'recall@10', 'ndcg@10')}
        row['seeds'] = len(runs)
        if name != 'base':
            row['ndcg@10_per_seed'] = [float(np.mean([r['ndcg@10'] for r in run])) for run in runs]
            row['vs_base_per_seed'] = [paired_bootstrap([r['ndcg@10'] for r in base], [r['ndcg@10'] for r in run]) for run in runs]
            row['vs_base'] = paired_bootstrap([r['ndcg@10'] for r in base], [r['ndcg@10'] for r in avg])
        res['retrieval'][name] = row
    for name, runs in R['answers'].items():
        summ = score_runs(qs, runs, by_id, emb, gold_support=True); avg = summ.pop('rows')
        res['answers'][name] = {'summary': summ, 'scores': avg, 'seeds': len(runs)}
    for name, ms in R['train'].items():
        row = {'seconds': [m['seconds'] for m in ms]}
        if ms and 'reencode_seconds' in ms[0]: row['reencode_seconds'] = [m['reencode_seconds'] for m in ms]
        if ms and 'history' in ms[0]:
            row['history'] = [m['history'] for m in ms]
            row['probes_after'] = [m['probes']['after'] for m in ms if m['probes']['after']]
            row['probes_before'] = next((m['probes']['before'] for m in ms if m['probes']['before']), None)
        elif ms and 'probes' in ms[0]:
            row['probes_after'] = [m['probes']['after'] for m in ms]; row['probes_before'] = ms[0]['probes']['before']
        res['train'][name] = row
    res['conclusions'] = conclusions(res)
    res['env'] = {'machine': f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores", 'torch': torch.__version__,
                  'threads': torch.get_num_threads(), 'load_avg_1min_at_end': os.getloadavg()[0], 'date': time.strftime('%Y-%m-%d'),
                  'dtype': str(default_dtype()).removeprefix('torch.')}
    return res

def fmt(d): return f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] → {verdict(d)}"

def conclusions(res):
    "Sentences computed from the numbers."
    out, Rt, A = [], res['retrieval'], res['answers']
    for name in ('LSR retriever', 'end-to-end', 'MNRL retriever'):
        if name in Rt:
            per = '; '.join(fmt(d) for d in Rt[name]['vs_base_per_seed'])
            hit = all(d[1] > 0 for d in Rt[name]['vs_base_per_seed'])
            out.append(f"**{name}** vs base retriever, test nDCG@10 per seed: {per}" +
                       (f" (target, above zero with the generator's signal alone: {'met' if hit else 'missed'})" if name != 'MNRL retriever' else ''))
    def cmp(x, y, metric='f1'):
        d = paired_bootstrap([r[metric] for r in A[x]['scores']], [r[metric] for r in A[y]['scores']])
        return f"**{y}** vs **{x}** (answer {metric}): {fmt(d)}", d
    for x, y in (('base + RAG', 'end-to-end'), ('two-stage (MNRL + RAFT)', 'end-to-end'), ('RAFT + RAG', 'end-to-end'),
                 ('base + RAG', 'two-stage (MNRL + RAFT)'), ('RAFT + RAG', 'two-stage (MNRL + RAFT)')):
        if x in A and y in A:
            s, d = cmp(x, y)
            if (x, y) == ('two-stage (MNRL + RAFT)', 'end-to-end'):
                s += f" (target, end-to-end at least matches two-stage within its interval: {'met' if d[2] >= 0 else 'missed'})"
            out.append(s)
    T = res['train']
    for name in ('LSR retriever', 'end-to-end', 'two-stage (MNRL + RAFT)', 'RAFT + RAG'):
        if name in T: out.append(f"wall time, {name}: {np.mean(T[name]['seconds']) / 60:.1f} min per seed (training"
                                 f"{', scoring and validation' if 'history' in T[name] else ''})")
    if 'two-stage (MNRL + RAFT)' in T and 'reencode_seconds' in T['two-stage (MNRL + RAFT)']:
        out.append(f"the stale index: after MNRL changed both sides, re-encoding the {res['n_passages']:,} passages took "
                   f"{np.mean(T['two-stage (MNRL + RAFT)']['reencode_seconds']) / 60:.1f} min per model; the LSR query encoder "
                   f"reused the index as it was (0 passages re-encoded)")
    if 'end-to-end' in T and T['end-to-end'].get('probes_after'):
        b, after = T['end-to-end']['probes_before'], T['end-to-end']['probes_after']
        out.append(f"forgetting after end-to-end: general LM loss {b['general_lm_loss']:.3f} → "
                   f"{np.mean([p['general_lm_loss'] for p in after]):.3f}, general accuracy {b['general_accuracy']:.1%} → "
                   f"{np.mean([p['general_accuracy'] for p in after]):.1%}")
    return out

def markdown(res):
    c, Rt, A = res['config'], res['retrieval'], res['answers']
    lines = ['# End-to-end vs two-stage vs base + RAG (docs corpus)', '',
             f"Made by `bench/e2e.py` on {res['env']['date']}: {res['n_questions']} test questions (FAQ test + held-out docs), "
             f"{c['seeds']} seed(s). End-to-end: {c['rounds']} round(s) of REPLUG-LSR on the query side ({c['retriever_steps']} "
             f"steps, lr 2e-5, k = {c['k']} candidates scored by the generator with passages cut to {c['score_tokens']} tokens, "
             f"γ 0.05, β 0.1) and LoRA on the generator ({c['generator_steps']} steps per round, lr 1e-3, batch 4) with the "
             f"top-2 passages the current retriever returns. Passage vectors and index fixed (query side only).", '',
             '## Retrieval (test)', '', '| retriever | seeds | R@1 | R@10 | nDCG@10 | nDCG@10 − base, seed-averaged [95% CI] |', '|---|---|---|---|---|---|']
    for name, r in Rt.items():
        lines.append(f"| {name} | {r['seeds']} | " + ' | '.join(f"{r[m][0]:.3f} [{r[m][1]:.2f}, {r[m][2]:.2f}]" for m in ('recall@1', 'recall@10', 'ndcg@10'))
                     + f" | {fmt(r['vs_base']) if 'vs_base' in r else '—'} |")
    lines += ['', '## Answers (test)', '', '| system | seeds | F1 | ROUGE-L | semantic sim. | cites gold | loops |', '|---|---|---|---|---|---|---|']
    for name, r in A.items():
        s = r['summary']
        lines.append(f"| {name} | {r['seeds']} | " + ' | '.join(f"{s[k][0]:.3f} [{s[k][1]:.2f}, {s[k][2]:.2f}]" for k in ('f1', 'rouge_l', 'semantic'))
                     + f" | {s['cites_gold']:.1%} | {s['loop']:.1%} |")
    lines += ['', '## Computed conclusions', '', *[f"- {x}" for x in res['conclusions']], '',
              f"Machine: {res['env']['machine']}, torch {res['env']['torch']} ({res['env']['threads']} thread(s), {res['env']['dtype']}); "
              f"1-minute load average at the end {res['env']['load_avg_1min_at_end']:.1f}. Training curves: `e2e.png`.", '']
    return '\n'.join(lines)

def plot(res, path):
    fig, axs = plt.subplots(1, 3, figsize=(12, 3.2))
    for name, style in (('end-to-end', 'o-'), ('LSR retriever', 's--')):
        for i, h in enumerate(res['train'].get(name, {}).get('history', [])):
            lab = name if i == 0 else None
            axs[0].plot([x['round'] for x in h], [x['ndcg@10'] for x in h], style, c='C0' if name == 'end-to-end' else 'C1', label=lab, alpha=.8)
            axs[1].plot([x['round'] for x in h], [x['f1'] for x in h], style, c='C0' if name == 'end-to-end' else 'C1', label=lab, alpha=.8)
            axs[2].plot([v for x in h for v in x['kl']], '-', c='C0' if name == 'end-to-end' else 'C1', label=lab, alpha=.6)
    axs[0].set(title='validation nDCG@10', xlabel='round'); axs[1].set(title='validation answer F1', xlabel='round')
    axs[2].set(title='KL(Q || P_R) per retriever step', xlabel='step (rounds joined)')
    for ax in axs: ax.legend(fontsize=8)
    fig.tight_layout(); fig.savefig(path, dpi=90); plt.close(fig)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=str(HERE))
    ap.add_argument('--seeds', type=int, default=3)
    ap.add_argument('--rounds', type=int, default=2)
    ap.add_argument('--retriever_steps', type=int, default=30)
    ap.add_argument('--generator_steps', type=int, default=20)
    ap.add_argument('--k', type=int, default=4, help='candidates per training question the generator scores (the cost: k forward passes per question per round)')
    ap.add_argument('--score_tokens', type=int, default=256)
    ap.add_argument('--limit', type=int, default=100, help='test questions (the first N, as bench/raft.py)')
    ap.add_argument('--train_limit', type=int, default=None, help='train/valid questions (default all)')
    ap.add_argument('--n_probe', type=int, default=64)
    ap.add_argument('--n_texts', type=int, default=64)
    ap.add_argument('--no_two_stage', dest='two_stage', action='store_false')
    ap.add_argument('--two_stage_seeds', type=int, help='run the two-stage system for the first N seeds only (each re-encodes the corpus)')
    ap.add_argument('--quick', action='store_true')
    ap.add_argument('--only_seed', type=int)
    ap.add_argument('--fresh', action='store_true')
    ap.add_argument('--threads', type=int)
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    if a.quick: a.seeds, a.rounds, a.retriever_steps, a.generator_steps, a.k, a.limit, a.train_limit, a.n_probe, a.n_texts, a.two_stage = 1, 1, 2, 1, 2, 4, 4, 4, 4, False
    res = main(a)
    if res is not None:
        out = Path(a.out)
        write_json(res, out/'e2e.json'); (out/'e2e.md').write_text(markdown(res)); plot(res, out/'e2e.png')
        print(markdown(res))
