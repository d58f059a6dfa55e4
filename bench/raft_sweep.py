"""RAFT's design choices, measured: P, hard vs random distractors, data size, target style, prompt template, transfer.

    .venv/bin/python bench/raft_sweep.py prepare                 # CPU: retrieval for every question -> bench/raft_sweep-work/prep
    .venv/bin/python bench/raft_sweep.py train --workers 8       # any torch device (a GPU: minutes; 2 CPU cores: a day)
    .venv/bin/python bench/raft_sweep.py report --runs FILE      # CPU: score, tables, plots -> bench/raft_sweep.{md,json,png}
    .venv/bin/python bench/raft_sweep.py all --quick --out /tmp/rs   # the three phases at toy size: checks the wiring

Same data, model and training settings as `bench/raft.py` (whose RAFT + RAG row is this sweep's P = 0.8, hard, answer,
delimited, all questions): the docs corpus, the FAQ train questions (validation: the FAQ valid questions, for early
stopping only), the first 100 test questions (FAQ test + held-out docs questions), dense retrieval (all-MiniLM-L6-v2),
top 2 passages in a 512-token budget, LoRA r=8, lr 1e-3, batch 4, <= 40 steps, greedy answers <= 64 tokens. Each RAFT
run changes one thing from that default:
- P, the share of training prompts that hold the gold passage: 0, 0.4, 0.8, 1.0; each with hard distractors (the
  retriever's top non-gold passages) and with random ones;
- the number of training questions (a learning curve): 25, 50, all;
- the target: the curated answer, or RAFT's quote of the gold passage followed by the answer;
- the prompt template: RAFT trained and asked with the plainest template (`plain`) against the base model with each
  template (does fine-tuning remove the need for prompt engineering?).
Transfer: the default RAFT adapters and the base model answer 60 curated questions over the git documentation
(`bench/gitdocs.py`, `bench/data/git_qa.jsonl`), a source never trained on.

Retrieval runs once, on the CPU (`prepare`): every question's hits are stored, so `train` needs neither the embedder
nor an index and can run where only the generator is (a GPU machine). `train` writes one JSON line per finished run
(resumable: finished runs are skipped), `report` scores the answers on the CPU with the embedder, as `bench/raft.py` does.
"""
import argparse, json, os, shutil, sys, time, traceback
from pathlib import Path
import numpy as np
from ragft_nb.data import write_json

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
P_GRID, KINDS, SIZES = (0.0, 0.4, 0.8, 1.0), ('hard', 'random'), (25, 50)
DEFAULT = dict(p=0.8, kind='hard', style='answer', template='delimited', n_train=None)

def run_name(c): return f"p{c['p']}-{c['kind']}-{c['style']}-{c['template']}-n{c['n_train'] or 'all'}-s{c['seed']}"

def grid(seeds):
    "Every RAFT run, seed by seed (so a run cut short still has whole seeds): one change from `DEFAULT` each."
    jobs = []
    for s in range(seeds):
        one = [dict(DEFAULT, p=p, kind=k) for p in P_GRID for k in KINDS]
        one += [dict(DEFAULT, n_train=n) for n in SIZES] + [dict(DEFAULT, style='quote'), dict(DEFAULT, template='plain')]
        jobs += [dict(c, seed=s) for c in one]
    return jobs

# ---------------------------------------------------------------- prepare (CPU: embedder and index)
def prepare(a):
    from ragft_nb.data import load_bundled, load_qa, split_qa, write_jsonl
    from ragft_nb.models import load_embedder
    from ragft_nb.retrieve import build_retriever
    from gitdocs import build_git_corpus
    emb, prep = load_embedder(), Path(a.work)/'prep'
    docs, qa = load_bundled('docs')
    questions = [q['question'] for q in qa]
    docs_hits = build_retriever(docs, 'dense', emb)(questions, 30)   # deep enough for hard distractors
    git = build_git_corpus()
    write_jsonl(git, prep/'git_corpus.jsonl')
    git_qa = load_qa(HERE/'data'/'git_qa.jsonl', git)
    git_hits = build_retriever(git, 'dense', emb)([q['question'] for q in git_qa], 5)
    as_json = lambda hits: [[[pid, float(s)] for pid, s in h] for h in hits]
    write_json({'docs_hits': dict(zip(questions, as_json(docs_hits))),
                'git_hits': dict(zip([q['question'] for q in git_qa], as_json(git_hits))),
                'test_ids': [q['id'] for q in split_qa(qa)['test'][:a.limit]]}, prep/'hits.json')
    print(f"prepared: {len(qa)} docs questions, {len(git_qa)} git questions over {len(git):,} git passages -> {prep}")

def lookup(hits):
    "A retriever that answers from stored hits: `(queries, k) -> [[(id, score), ...], ...]`."
    def retrieve(queries, k):
        missing = [q for q in queries if q not in hits]
        if missing: raise ValueError(f"no stored hits for {missing[0]!r}: run `prepare` again")
        return [[tuple(x) for x in hits[q][:k]] for q in queries]
    return retrieve

# ---------------------------------------------------------------- train (any device: generator only)
def _answers(model, tok, qs, retriever, by_id, a, template, k):
    from ragft_nb.evaluate import answer_records
    return answer_records(model, tok, qs, retriever, by_id, k, a.budget, a.max_new_tokens, template, a.batch)['answers']

def _data(a):
    from ragft_nb.data import load_bundled, load_corpus, load_qa
    prep = Path(a.work)/'prep'
    hits = json.loads((prep/'hits.json').read_text())
    docs, qa = load_bundled('docs')
    test = [q for i in hits['test_ids'] for q in qa if q['id'] == i]
    git = load_corpus(prep/'git_corpus.jsonl')
    git_qa = load_qa(HERE/'data'/'git_qa.jsonl', git)[:a.git_limit]
    return dict(docs=docs, by_id={p['id']: p for p in docs}, test=test, hits=hits, git_by_id={p['id']: p for p in git}, git_qa=git_qa)

def job(c, a):
    "One RAFT run (or the base model when `c` is None): train, then answer; returns a JSON-able record."
    import torch
    from ragft_nb.finetune import FinetuneConfig
    from ragft_nb.models import load_generator
    from ragft_nb.raft import run_raft
    torch.set_num_threads(a.threads)
    D, dev, t = _data(a), 'cuda' if torch.cuda.is_available() else 'cpu', time.time()
    docs_ret, git_ret = lookup(D['hits']['docs_hits']), lookup(D['hits']['git_hits'])
    rec = {'name': 'base' if c is None else run_name(c), 'config': c, 'device': dev}
    if c is None: model, tok = load_generator(device=dev)
    else:
        d = Path(a.work)/'runs'/rec['name']
        d.mkdir(parents=True, exist_ok=True)
        shutil.copy(Path(a.work)/'probes_before.json', d/'probes_before.json')   # measured once, on this device
        cfg = FinetuneConfig(max_steps=a.steps, batch_size=4, lr=1e-3, eval_steps=a.eval_steps, patience=2,
                             warmup_steps=min(4, a.steps // 4), max_len=a.budget + 256, seed=c['seed'])
        m = run_raft('docs', None, d, cfg, p=c['p'], distractors=1, kind=c['kind'], style=c['style'], n_probe=a.n_probe,
                     n_texts=a.n_texts, max_context_tokens=a.budget, template=c['template'], n_train=c['n_train'],
                     retriever=docs_ret if c['kind'] == 'hard' else None, limit=a.split_limit)
        rec['train'] = {k: m[k] for k in ('seconds', 'steps', 'kept_step', 'valid_loss_before', 'valid_loss', 'test_loss', 'probes', 'data')}
        model, tok = load_generator(adapter=d/'adapter', device=dev)
    ans = rec['answers'] = {}
    if c is None:   # the base model: closed book and with passages, in both templates; and on the git questions
        ans['docs closed'] = _answers(model, tok, D['test'], None, D['by_id'], a, 'delimited', 0)
        for tpl in ('delimited', 'plain'): ans[f'docs rag {tpl}'] = _answers(model, tok, D['test'], docs_ret, D['by_id'], a, tpl, a.k)
        ans['git closed'] = _answers(model, tok, D['git_qa'], None, D['git_by_id'], a, 'delimited', 0)
        ans['git rag delimited'] = _answers(model, tok, D['git_qa'], git_ret, D['git_by_id'], a, 'delimited', a.k)
    else:
        ans[f"docs rag {c['template']}"] = _answers(model, tok, D['test'], docs_ret, D['by_id'], a, c['template'], a.k)
        if dict(c, seed=None) == dict(DEFAULT, seed=None):   # the default adapter: transfer, and another template than trained on
            ans['git rag delimited'] = _answers(model, tok, D['git_qa'], git_ret, D['git_by_id'], a, 'delimited', a.k)
            ans['docs rag plain'] = _answers(model, tok, D['test'], docs_ret, D['by_id'], a, 'plain', a.k)
    rec['seconds'] = round(time.time() - t, 1)
    return rec

def _safe_job(c, a):
    try: return job(c, a)
    except Exception: return {'name': 'base' if c is None else run_name(c), 'config': c, 'error': traceback.format_exc()[-3000:]}

def train(a):
    import torch
    from concurrent.futures import ProcessPoolExecutor, as_completed
    import multiprocessing as mp
    from ragft_nb.finetune import forgetting_probes, general_qa, general_texts
    from ragft_nb.models import load_generator
    work, runs = Path(a.work), Path(a.runs)
    done = {r['name'] for r in map(json.loads, runs.read_text().splitlines()) if 'error' not in r} if runs.is_file() else set()
    if not (work/'probes_before.json').is_file():   # the base model's probes, once, on this device (and the GGUF converted once)
        dev = 'cuda' if torch.cuda.is_available() else 'cpu'
        model, tok = load_generator(device=dev)
        write_json(forgetting_probes(model, tok, general_texts(a.n_texts), general_qa(a.n_probe)), work/'probes_before.json')
        del model
    todo = [c for c in [None] + grid(a.seeds) if ('base' if c is None else run_name(c)) not in done]
    print(f"{len(done)} runs done, {len(todo)} to go, {a.workers} worker(s), device {'cuda' if torch.cuda.is_available() else 'cpu'}", flush=True)
    t0 = time.time()
    with ProcessPoolExecutor(a.workers, mp_context=mp.get_context('spawn')) as ex:
        futs = [ex.submit(_safe_job, c, a) for c in todo]
        for f in as_completed(futs):
            r = f.result()
            with open(runs, 'a') as fh: fh.write(json.dumps(r, ensure_ascii=False) + '\n')   # one line per finished run: resumable
            msg = r['error'].strip().splitlines()[-1] if 'error' in r else f"{r['seconds']:.0f}s"
            print(f"[{time.time() - t0:5.0f}s] {r['name']}: {msg}", flush=True)

# ---------------------------------------------------------------- report (CPU: scoring with the embedder)
def report(a):
    from ragft_nb.evaluate import score_runs
    from ragft_nb.data import load_bundled, load_corpus, load_qa
    from ragft_nb.evaluate import BASELINES, baseline_answers, paired_bootstrap, verdict
    from ragft_nb.models import load_embedder
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    recs = {}
    for r in map(json.loads, Path(a.runs).read_text().splitlines()):
        if 'error' in r: print(f"{r['name']}: failed:\n{r['error']}"); continue
        recs[r['name']] = r
    D, emb = _data(a), load_embedder()
    sets = {'docs': (D['test'], D['by_id']), 'git': (D['git_qa'], D['git_by_id'])}
    hits = {'docs': lookup(D['hits']['docs_hits']), 'git': lookup(D['hits']['git_hits'])}
    systems = {}   # display name -> (question set, [answers per seed], [train records])
    def add(name, qset, answers, tr=None):
        s = systems.setdefault(name, (qset, [], []))
        s[1].append(answers); tr and s[2].append(tr)
    base = recs['base']['answers']
    add('base, closed book', 'docs', base['docs closed']); add('base + RAG (delimited)', 'docs', base['docs rag delimited'])
    add('base + RAG (plain)', 'docs', base['docs rag plain'])
    add('git: base, closed book', 'git', base['git closed']); add('git: base + RAG', 'git', base['git rag delimited'])
    for r in recs.values():
        c = r['config']
        if c is None: continue
        add(label(c), 'docs', r['answers'][f"docs rag {c['template']}"], r['train'])
        if 'git rag delimited' in r['answers']:
            add('git: RAFT + RAG', 'git', r['answers']['git rag delimited'], r['train'])
            add('RAFT (delimited) asked in plain', 'docs', r['answers']['docs rag plain'], r['train'])
    for qset, (qs, by_id) in sets.items():
        top1 = hits[qset]([q['question'] for q in qs], 1)
        for b in BASELINES:
            add(f"{'git: ' if qset == 'git' else ''}baseline: {b}", qset,
                [{'id': q['id'], 'answer': x} for q, x in zip(qs, baseline_answers(b, qs, top1, by_id))])
    res = {'config': {k: v for k, v in vars(a).items() if k not in ('func',)}, 'systems': {}}
    for name, (qset, runs, trs) in sorted(systems.items(), key=lambda x: row_order(x[0])):
        qs, by_id = sets[qset]
        summ = score_runs(qs, [{'answers': x} for x in runs], by_id, emb, gold_support=True); avg = summ.pop('rows')
        row = {'set': qset, 'seeds': len(runs), 'summary': summ, 'scores': avg}
        if trs: row['train'] = {'seconds': [t['seconds'] for t in trs], 'probes_after': [t['probes']['after'] for t in trs],
                                'kept_step': [t['kept_step'] for t in trs], 'train_questions': trs[0]['data']['train']}
        res['systems'][name] = row
    res['probes_before'] = next(iter(recs[n]['train']['probes']['before'] for n in recs if n != 'base'), None)
    res['device'] = sorted({r['device'] for r in recs.values()})
    res['conclusions'] = sweep_conclusions(res, paired_bootstrap, verdict)
    out = Path(a.out)
    write_json(res, out/'raft_sweep.json')
    plot(res, out/'raft_sweep.png', plt)
    (out/'raft_sweep.md').write_text(markdown(res))
    print(markdown(res))

def row_order(name):
    "Table order: base rows, the P sweep (hard, then random), data size, target, template, transfer, baselines."
    keys = ['base', 'RAFT, P=', 'RAFT, 25', 'RAFT, 50', 'RAFT, target', 'RAFT (', 'git: base', 'git: RAFT', 'baseline', 'git: baseline']
    i = next(i for i, k in reversed(list(enumerate(keys))) if name.startswith(k))
    return (i, 'random' in name, 'closed' not in name, 'plain' in name, name)

def label(c):
    "The display name of a RAFT run's system (seeds pooled)."
    if c['n_train']: return f"RAFT, {c['n_train']} training questions"
    if c['style'] != 'answer': return f"RAFT, target: {c['style']} + answer"
    if c['template'] != 'delimited': return f"RAFT ({c['template']}) asked in {c['template']}"
    return f"RAFT, P={c['p']:g}, {c['kind']} distractors"

def _cmp(res, a, b, pb, vd, metric='f1'):
    S = res['systems']
    if a not in S or b not in S: return None
    d = pb([r[metric] for r in S[a]['scores']], [r[metric] for r in S[b]['scores']])
    return f"**{b}** vs **{a}** ({metric}): {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] → {vd(d)}"

def sweep_conclusions(res, pb, vd):
    S, out = res['systems'], []
    f1 = lambda n: S[n]['summary']['f1'][0]
    for k in KINDS:
        ps = [p for p in P_GRID if f"RAFT, P={p:g}, {k} distractors" in S]
        if ps:
            best = max(ps, key=lambda p: f1(f"RAFT, P={p:g}, {k} distractors"))
            out.append(f"{k} distractors: best P on the test questions = {best:g} (F1 " +
                       ', '.join(f"P={p:g} {f1(f'RAFT, P={p:g}, {k} distractors'):.3f}" for p in ps) + ')')
            out.append(_cmp(res, f"RAFT, P={ps[0]:g}, {k} distractors", f"RAFT, P={ps[-1]:g}, {k} distractors", pb, vd))
            out.append(_cmp(res, f"RAFT, P=0.8, {k} distractors", f"RAFT, P=1, {k} distractors", pb, vd))   # RAFT's paper: 0.8 beats 1
    for p in P_GRID:
        out.append(_cmp(res, f"RAFT, P={p:g}, random distractors", f"RAFT, P={p:g}, hard distractors", pb, vd))
    d = 'RAFT, P=0.8, hard distractors'
    out += [_cmp(res, 'base + RAG (delimited)', d, pb, vd), _cmp(res, 'baseline: passage', d, pb, vd)]
    out += [_cmp(res, f"RAFT, {n} training questions", d, pb, vd) for n in SIZES]
    out.append(_cmp(res, d, 'RAFT, target: quote + answer', pb, vd))
    if 'base + RAG (plain)' in S:
        best_base = max(('base + RAG (delimited)', 'base + RAG (plain)'), key=f1)
        out.append(f"the base model's better template here: {best_base.split('(')[1][:-1]} (F1 {f1(best_base):.3f})")
        out.append(_cmp(res, best_base, 'RAFT (plain) asked in plain', pb, vd))
        out.append(_cmp(res, d, 'RAFT (delimited) asked in plain', pb, vd))
    out += [_cmp(res, 'git: base + RAG', 'git: RAFT + RAG', pb, vd), _cmp(res, 'git: baseline: passage', 'git: RAFT + RAG', pb, vd),
            _cmp(res, 'git: base, closed book', 'git: base + RAG', pb, vd)]
    return [x for x in out if x]

def plot(res, path, plt):
    S = res['systems']
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    ax = axes[0]
    for k, dx in zip(KINDS, (-0.01, 0.01)):
        ps = [p for p in P_GRID if f"RAFT, P={p:g}, {k} distractors" in S]
        m = np.array([S[f"RAFT, P={p:g}, {k} distractors"]['summary']['f1'] for p in ps])
        if len(m): ax.errorbar(np.array(ps) + dx, m[:, 0], yerr=[m[:, 0] - m[:, 1], m[:, 2] - m[:, 0]], marker='o', capsize=3, label=f'RAFT, {k} distractors')
    for n, ls in (('base + RAG (delimited)', '--'), ('baseline: passage', ':')):
        if n in S: ax.axhline(S[n]['summary']['f1'][0], ls=ls, color='gray', label=n)
    ax.set(xlabel='P (share of training prompts with the gold passage)', ylabel='answer F1 (95% CI)', title='RAFT: F1 against P', xticks=P_GRID)
    ax.legend(fontsize=7)
    ax = axes[1]
    names = [f"RAFT, {n} training questions" for n in SIZES] + ['RAFT, P=0.8, hard distractors']
    pts = [(S[n]['train']['train_questions'], S[n]['summary']['f1']) for n in names if n in S]
    if pts:
        x, m = [p[0] for p in pts], np.array([p[1] for p in pts])
        ax.errorbar(x, m[:, 0], yerr=[m[:, 0] - m[:, 1], m[:, 2] - m[:, 0]], marker='o', capsize=3, label='RAFT + RAG')
    if 'base + RAG (delimited)' in S: ax.axhline(S['base + RAG (delimited)']['summary']['f1'][0], ls='--', color='gray', label='base + RAG')
    ax.set(xlabel='training questions', ylabel='answer F1 (95% CI)', title='Data requirements: a learning curve'); ax.legend(fontsize=7)
    fig.tight_layout(); fig.savefig(path, dpi=90); plt.close(fig)

def markdown(res):
    c, S = res['config'], res['systems']
    iv = lambda x: f"{x[0]:.3f} [{x[1]:.2f}, {x[2]:.2f}]"
    ms = lambda xs, f='.3f': f"{np.mean(xs):{f}} ± {np.std(xs, ddof=1):{f}}" if len(xs) > 1 else f"{xs[0]:{f}}"
    lines = ['# RAFT design choices: P, distractors, data size, target, template, transfer', '',
             f"Made by `bench/raft_sweep.py` ({', '.join(res['device'])}; scored on the CPU): the settings of `bench/raft.py`, one change per "
             f"row, {c['seeds']} seed(s) per RAFT row; docs rows: {len(next(iter(S.values()))['scores'])} test questions over the docs corpus "
             f"(top {c['k']} passages, {c['budget']}-token budget); git rows: curated questions over the git documentation, never trained on.", '',
             '| system | questions | seeds | F1 | ROUGE-L | semantic | grounded | cites gold | loops | general LM loss after | kept step |',
             '|---|---|---|---|---|---|---|---|---|---|---|']
    for n, r in S.items():
        s, tr = r['summary'], r.get('train')
        cells = [n, f"{r['set']} ({len(r['scores'])})", str(r['seeds']), iv(s['f1']), iv(s['rouge_l']), iv(s['semantic']),
                 f"{s['groundedness']:.3f}" if s.get('groundedness') is not None else '—',
                 f"{s['cites_gold']:.1%}" if s.get('cites_gold') is not None else '—', f"{s['loop']:.1%}",
                 ms([p['general_lm_loss'] for p in tr['probes_after']]) if tr else '—', ms(tr['kept_step'], '.0f') if tr else '—']
        lines.append('| ' + ' | '.join(cells) + ' |')
    b = res.get('probes_before')
    lines += ['', f"Base model's general LM loss: {b['general_lm_loss']:.3f}." if b else '', '',
              'Scores as in `bench/raft.md`: seed-averaged per-question scores, 95% bootstrap intervals over questions; comparisons '
              'are paired bootstraps over the same questions ("better"/"worse" only when the interval excludes zero).', '',
              '## Computed conclusions', '', *[f"- {x}" for x in res['conclusions']], '']
    return '\n'.join(lines)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('phase', choices=('prepare', 'train', 'report', 'all'))
    ap.add_argument('--out', default=str(HERE), help='folder for raft_sweep.{md,json,png}')
    ap.add_argument('--work', default=None, help='working folder (default: OUT/raft_sweep-work)')
    ap.add_argument('--runs', default=None, help='the JSONL of finished runs (default: WORK/runs.jsonl)')
    ap.add_argument('--seeds', type=int, default=3)
    ap.add_argument('--steps', type=int, default=40)
    ap.add_argument('--eval_steps', type=int, default=20)
    ap.add_argument('--k', type=int, default=2)
    ap.add_argument('--budget', type=int, default=512)
    ap.add_argument('--max_new_tokens', type=int, default=64)
    ap.add_argument('--n_probe', type=int, default=64)
    ap.add_argument('--n_texts', type=int, default=64)
    ap.add_argument('--limit', type=int, default=100, help='first N test questions (as bench/raft.py)')
    ap.add_argument('--git_limit', type=int, default=None, help='first N git questions (default all)')
    ap.add_argument('--batch', type=int, default=32, help='questions per generation batch')
    ap.add_argument('--workers', type=int, default=1, help='runs in parallel (processes)')
    ap.add_argument('--threads', type=int, default=1, help='torch threads per worker')
    ap.add_argument('--quick', action='store_true', help='toy size: 1 seed, 2 steps, 4 questions, 4 probes')
    a = ap.parse_args()
    a.split_limit = 4 if a.quick else None   # toy runs: the first 4 questions of each split
    if a.quick: a.seeds, a.steps, a.eval_steps, a.limit, a.git_limit, a.n_probe, a.n_texts, a.max_new_tokens = 1, 2, 2, 4, 4, 4, 4, 16
    a.work = a.work or str(Path(a.out)/'raft_sweep-work'); a.runs = a.runs or str(Path(a.work)/'runs.jsonl')
    Path(a.work).mkdir(parents=True, exist_ok=True)
    for ph in (('prepare', 'train', 'report') if a.phase == 'all' else (a.phase,)): globals()[ph](a)
