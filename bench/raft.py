"""RAFT vs closed-book fine-tuning (DSF) vs the base model, with and without retrieved passages (RAFT's Table 1, here).

    .venv/bin/python bench/raft.py --threads 1              # default size, 3 seeds; writes bench/raft.{md,json}
    .venv/bin/python bench/raft.py --only_seed 2 --threads 1  # (in a second shell: one seed in parallel; then re-run the first)
    .venv/bin/python bench/raft.py --quick --out /tmp/raft  # toy size: checks the wiring in a few minutes

Data: the docs corpus (8,391 passages). Training: the FAQ train questions (validation: the FAQ valid questions, for
early stopping only). Test: the first `--limit` (default 100) of the FAQ test questions (37) followed by the held-out
docs questions (122), never trained on or used for any
choice, each scored against its curated reference. Systems, all greedy with the same prompt template and token
budget: the base SmolLM2-135M-Instruct closed book and with retrieved passages (dense retrieval, top `--k`); DSF
(LoRA on question -> answer, closed book) without and with the same passages; RAFT (LoRA on the RAG prompt with the
gold passage plus `--distractors` hard distractors, gold kept with probability `--p`) with the passages. The three
no-model baselines (echo, lead, passage) are scored on the same questions. DSF and RAFT share every training
hyper-parameter and run with `--seeds` seeds; per-question scores are averaged over seeds before the bootstrap, and
the conclusions come from paired bootstraps on the same questions.

Everything a run builds is kept under `--out`/work (adapters, answers), keyed by the configuration, so an interrupted
run resumes where it stopped; `--fresh` starts over.
"""
import argparse, json, os, platform, shutil, time
from pathlib import Path
import numpy as np
import torch
from ragft_nb.data import atomic_write_bytes, load_bundled, split_qa, write_json
from ragft_nb.models import default_dtype, load_embedder, load_generator
from ragft_nb.retrieve import build_retriever
from ragft_nb.evaluate import BASELINES, answer_records, baseline_answers, cached_json, paired_bootstrap, score_runs, verdict
from ragft_nb.finetune import FinetuneConfig, forgetting_probes, general_qa, general_texts, run_finetune
from ragft_nb.raft import run_raft

HERE = Path(__file__).parent
CI_COLS = {'f1': 'F1', 'rouge_l': 'ROUGE-L', 'semantic': 'semantic sim.'}

BATCH = 8   # answers generated per batch (the library's `answer_records` does the rest)

def train(kind, seed, a, work, before):
    "Train (or reload) one DSF or RAFT adapter; returns its metrics."
    d = work/f'{kind}-seed{seed}'
    if (d/'metrics.json').is_file() and (d/'adapter').is_dir(): return json.loads((d/'metrics.json').read_text())
    write_json(before, d/'probes_before.json')   # measured once for the base model, shared by every run
    cfg = FinetuneConfig(max_steps=a.steps, batch_size=a.batch_size, lr=a.lr, eval_steps=a.eval_steps, patience=a.patience,
                         warmup_steps=min(4, a.steps // 4), max_len=a.budget + 256, seed=seed)
    if kind == 'dsf': return run_finetune('docs', None, d, cfg, a.n_probe, a.n_texts)
    return run_raft('docs', None, d, cfg, p=a.p, distractors=a.distractors, kind='hard', style='answer',
                    n_probe=a.n_probe, n_texts=a.n_texts, max_context_tokens=a.budget)

def main(a):
    dtype = default_dtype()
    RUN_ONLY = ('out', 'threads', 'fresh', 'only_seed', 'seeds')   # options that do not change what a seed computes
    out, config = Path(a.out), {k: v for k, v in vars(a).items() if k not in RUN_ONLY}
    work = out/'raft-work'
    if a.fresh: shutil.rmtree(work, ignore_errors=True)
    if (work/'config.json').is_file() and {k: v for k, v in json.loads((work/'config.json').read_text()).items() if k not in RUN_ONLY} != config:
        raise SystemExit(f"{work} holds a run with another configuration: pass --fresh to start over")
    write_json(config, work/'config.json')
    docs, qa = load_bundled('docs')
    by_id, emb = {p['id']: p for p in docs}, load_embedder()
    qs = split_qa(qa)['test'][:a.limit or None]
    retriever = build_retriever(docs, 'dense', embedder=emb)
    hits = retriever([q['question'] for q in qs], k=max(a.k, 1))
    model, tok = load_generator(dtype=dtype)
    t = time.time()
    before = cached_json(work/'probes_before.json', lambda: forgetting_probes(model, tok, general_texts(a.n_texts), general_qa(a.n_probe)))
    systems = {}   # name -> {'answers': [per seed], 'train': [metrics per seed]}
    answer = lambda k: answer_records(model, tok, qs, retriever, by_id, k, a.budget, a.max_new_tokens, batch_size=BATCH)
    systems['base, closed book'] = {'runs': [cached_json(work/'base-closed.json', lambda: answer(0))]}
    systems['base + RAG'] = {'runs': [cached_json(work/'base-rag.json', lambda: answer(a.k))]}
    print(f"base model answered ({time.time() - t:.0f}s)", flush=True)
    del model
    for seed in range(a.seeds) if a.only_seed is None else [a.only_seed]:
        for kind in ('dsf', 'raft'):
            t = time.time()
            m = train(kind, seed, a, work, before)
            print(f"{kind} seed {seed}: trained ({m['seconds']:.0f}s, kept step {m['kept_step']}/{m['steps']}, valid loss "
                  f"{m['valid_loss_before']:.3f} -> {m['valid_loss']:.3f})", flush=True)
            model, tok = load_generator(dtype=dtype, adapter=work/f'{kind}-seed{seed}'/'adapter')
            names = ['DSF, closed book', 'DSF + RAG'] if kind == 'dsf' else ['RAFT + RAG']
            for name in names:
                k = 0 if 'closed' in name else a.k
                f = work/f"{kind}-seed{seed}-{'closed' if k == 0 else 'rag'}.json"
                s = systems.setdefault(name, {'runs': [], 'train': []})
                s['runs'].append(cached_json(f, lambda: answer(k)))
                s['train'].append(m)
            print(f"{kind} seed {seed}: answered ({time.time() - t:.0f}s in all)", flush=True)
            del model
    if a.only_seed is not None: return None
    for b in BASELINES:
        ans = baseline_answers(b, qs, hits, by_id)
        systems[f'baseline: {b}'] = {'runs': [{'answers': [{'id': q['id'], 'answer': x} for q, x in zip(qs, ans)]}]}
    res = {'config': config | {'seeds': a.seeds}, 'dtype': str(dtype).removeprefix('torch.'), 'n_questions': len(qs), 'probes_before': before,
           'systems': {}}
    for name, s in systems.items():
        summ = score_runs(qs, s['runs'], by_id, emb, gold_support=True); avg = summ.pop('rows')
        row = {'summary': summ, 'scores': avg, 'seeds': summ['seeds'],
               'seconds_per_question': s['runs'][0].get('seconds_per_question'), 'answers': s['runs'][0]['answers']}
        if s.get('train'):
            tr = s['train']
            row['train'] = {'seconds': [m['seconds'] for m in tr], 'kept_step': [m['kept_step'] for m in tr],
                            'valid_loss': [m['valid_loss'] for m in tr], 'test_loss': [m['test_loss'] for m in tr],
                            'probes_after': [m['probes']['after'] for m in tr], 'strategy': tr[0]['config']['strategy']}
        res['systems'][name] = row
    res['conclusions'] = conclusions(res)
    res['env'] = {'machine': f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores", 'torch': torch.__version__,
                  'threads': torch.get_num_threads(), 'load_avg_1min_at_end': os.getloadavg()[0], 'date': time.strftime('%Y-%m-%d')}
    return res

def compare(res, a, b, metric='f1'):
    "Paired bootstrap of B − A on the seed-averaged per-question scores: `(sentence, (mean, low, high))`."
    sa, sb = res['systems'][a]['scores'], res['systems'][b]['scores']
    d = paired_bootstrap([r[metric] for r in sa], [r[metric] for r in sb])
    return f"**{b}** vs **{a}** ({metric}): {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] → {verdict(d)}", d

def conclusions(res):
    "Sentences computed from the numbers: every comparison the issue asks for, with its paired interval."
    S, out = res['systems'], []
    pairs = [('base + RAG', 'RAFT + RAG'), ('DSF + RAG', 'RAFT + RAG'), ('baseline: lead', 'RAFT + RAG'),
             ('baseline: passage', 'RAFT + RAG'), ('base, closed book', 'base + RAG'), ('base, closed book', 'DSF, closed book'),
             ('base + RAG', 'DSF + RAG')]
    out += [compare(res, x, y)[0] for x, y in pairs if x in S and y in S]
    out.append(compare(res, 'base + RAG', 'RAFT + RAG', 'semantic')[0])
    loops = {n: S[n]['summary']['loop'] for n in ('base + RAG', 'DSF + RAG', 'RAFT + RAG')}
    out.append('answers that loop: ' + ', '.join(f"{n} {v:.1%}" for n, v in loops.items()) +
               f" (target for RAFT + RAG: < 5% → {'met' if loops['RAFT + RAG'] < 0.05 else 'missed'})")
    cites = {n: S[n]['summary'].get('cites_gold') for n in ('base + RAG', 'DSF + RAG', 'RAFT + RAG')}
    out.append('cites the gold passage when it is in the prompt: ' + ', '.join(f"{n} {v:.1%}" for n, v in cites.items()))
    b = res['probes_before']
    for n in ('DSF, closed book', 'RAFT + RAG'):
        after = S[n]['train']['probes_after']
        lm, acc = [p['general_lm_loss'] for p in after], [p['general_accuracy'] for p in after]
        out.append(f"forgetting after {n.split(',')[0].split(' +')[0]}: general LM loss {b['general_lm_loss']:.3f} → "
                   f"{np.mean(lm):.3f} ± {np.std(lm, ddof=1) if len(lm) > 1 else 0:.3f}; general accuracy "
                   f"{b['general_accuracy']:.1%} → {np.mean(acc):.1%} ± {np.std(acc, ddof=1) if len(acc) > 1 else 0:.1%} "
                   f"(one probe question = {1 / res['config']['n_probe']:.1%})")
    return out

def ms(xs, fmt='.3f'):
    "Mean ± std over seeds."
    return f"{np.mean(xs):{fmt}} ± {np.std(xs, ddof=1):{fmt}}" if len(xs) > 1 else f"{xs[0]:{fmt}}"

def markdown(res):
    c = res['config']
    head = ['system', 'seeds', *CI_COLS.values(), 'grounded in context', 'gold support', 'cites gold', 'loops',
            'general LM loss after', 'general acc. after', 'train (min)', 's / question']
    lines = ['# RAFT vs DSF vs base model, with and without retrieved passages', '',
             f"Made by `bench/raft.py` on {res['env']['date']}: {res['n_questions']} test questions (FAQ test + held-out docs "
             f"questions) over the docs corpus; SmolLM2-135M-Instruct ({res['dtype']}), greedy, ≤ {c['max_new_tokens']} new tokens; "
             f"dense retrieval (all-MiniLM-L6-v2), top {c['k']} passages in a {c['budget']}-token budget. DSF and RAFT: LoRA r=8 "
             f"on q/k/v/o, lr {c['lr']:g}, batch {c['batch_size']}, ≤ {c['steps']} steps, validation every {c['eval_steps']} "
             f"steps, early stopping (patience {c['patience']}) on the FAQ validation loss, {c['seeds']} seed(s). RAFT data: gold "
             f"+ {c['distractors']} hard distractor(s) (dense retrieval, not gold), gold kept with p = {c['p']}, target = the "
             f"curated answer and the gold passage's citation.", '',
             '| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for name, r in res['systems'].items():
        s, tr = r['summary'], r.get('train')
        cells = [name, str(r['seeds'])] + [f"{s[k][0]:.3f} [{s[k][1]:.2f}, {s[k][2]:.2f}]" for k in CI_COLS]
        cells += [f"{s[k]:.3f}" if s.get(k) is not None else '—' for k in ('groundedness', 'gold_support')]
        cells += [f"{s['cites_gold']:.1%}" if s.get('cites_gold') is not None else '—', f"{s['loop']:.1%}"]
        if tr:
            cells += [ms([p['general_lm_loss'] for p in tr['probes_after']]), ms([p['general_accuracy'] for p in tr['probes_after']], '.1%'),
                      ms([x / 60 for x in tr['seconds']], '.1f')]
        elif name.startswith(('base,', 'base +')):
            b = res['probes_before']; cells += [f"{b['general_lm_loss']:.3f} (base)", f"{b['general_accuracy']:.1%} (base)", '—']
        else: cells += ['—'] * 3
        cells.append(f"{r['seconds_per_question']:.2f}" if r.get('seconds_per_question') else '—')
        lines.append('| ' + ' | '.join(cells) + ' |')
    lines += ['', 'F1 / ROUGE-L / semantic similarity: seed-averaged per-question scores, mean with a 95% bootstrap interval over '
              'questions. **grounded in context**: share of the answer\'s content words (not in the question) found in the prompt\'s '
              'passages; **gold support**: the same against the gold passage(s); **cites gold**: share of answers citing a gold '
              'passage among those whose prompt held one; **loops**: answers where a 4-word run occurs 3 times or more. Forgetting '
              'probes and training time: mean ± std over seeds (train time includes validation, test loss and the probes). '
              f"Per-seed F1 of RAFT + RAG: {', '.join(f'{x:.3f}' for x in res['systems']['RAFT + RAG']['summary']['f1_per_seed'])}.", '',
              '## Computed conclusions (paired bootstrap over the same questions)', '', *[f"- {x}" for x in res['conclusions']], '',
              f"Machine: {res['env']['machine']}, torch {res['env']['torch']} ({res['env']['threads']} thread(s)); "
              f"1-minute load average at the end {res['env']['load_avg_1min_at_end']:.1f}.", '']
    return '\n'.join(lines)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=str(HERE), help='folder for raft.md, raft.json and the raft-work cache')
    ap.add_argument('--seeds', type=int, default=3)
    ap.add_argument('--steps', type=int, default=40, help='optimizer steps at most per training run')
    ap.add_argument('--batch_size', type=int, default=4)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--eval_steps', type=int, default=20)
    ap.add_argument('--patience', type=int, default=2)
    ap.add_argument('--k', type=int, default=2, help='passages retrieved per test question')
    ap.add_argument('--budget', type=int, default=512, help='token budget for the passages (training and test)')
    ap.add_argument('--p', type=float, default=0.8, help='RAFT: probability of keeping the gold passage')
    ap.add_argument('--distractors', type=int, default=1, help='RAFT: hard distractors per training question')
    ap.add_argument('--max_new_tokens', type=int, default=64)
    ap.add_argument('--n_probe', type=int, default=64)
    ap.add_argument('--n_texts', type=int, default=64)
    ap.add_argument('--limit', type=int, default=100, help='use only the first N test questions (0: all)')
    ap.add_argument('--quick', action='store_true', help='toy size: 1 seed, 2 steps, 6 questions, 4 probes')
    ap.add_argument('--only_seed', type=int, help='train and answer with this seed only (to run seeds in parallel processes)')
    ap.add_argument('--fresh', action='store_true', help='discard what an earlier run with --out built')
    ap.add_argument('--threads', type=int, help="torch threads (default: torch's choice)")
    a = ap.parse_args()
    if a.quick: a.seeds, a.steps, a.batch_size, a.eval_steps, a.limit, a.n_probe, a.n_texts = 1, 2, 2, 1, 6, 4, 4
    if a.threads: torch.set_num_threads(a.threads)
    res = main(a)
    if res is None: raise SystemExit(f"seed {a.only_seed} done; run again without --only_seed for the table")
    md = markdown(res)
    print(md)
    write_json(res, Path(a.out)/'raft.json')
    atomic_write_bytes(Path(a.out)/'raft.md', md.encode())
