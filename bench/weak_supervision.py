"""What weak supervision adds to the fine-tuned retriever, and what fine-tuning costs on a second knowledge source.

    .venv/bin/python bench/weak_supervision.py --seeds 1     # ~35 min on 2 cores per seed (re-encodes the docs corpus per model)
    python3 bench/weak_supervision.py --synthetic 3000 --work /tmp/weak --results $OUT --git-corpus FILE   # a GPU: minutes
    .venv/bin/python bench/weak_supervision.py --quick --work /tmp/ws --results /tmp/ws   # toy size: checks the wiring

Training (all with `ragft_nb.train_retriever.train_retriever`: mined hard negatives, MNRL, 1 epoch, lr 1e-4, batch 32):
- `questions`: the 90 FAQ training questions (as `bench/train_retriever.py`);
- `+ headings`: plus `--headings` section headings of the docs corpus as pseudo-questions (`title_queries`);
- `+ generated`: plus questions the bundled generator wrote for `--synthetic` sampled docs passages, kept only when
  the base retriever finds their passage in its top 3 (`synthetic_questions`: round-trip filtering);
- `+ both`.
Headings and generated questions come from the corpus alone (no labels), as a user would have them; they may cover
passages that test questions ask about, which is what weak supervision is for; the test questions themselves are
never seen. Evaluation, dense exact search over the re-encoded corpus: the FAQ valid+test questions and the held-out
docs questions (the docs corpus), and, as the **second knowledge source never trained on**, the 60 curated git
questions over the git documentation (`bench/gitdocs.py`), where the issue's budget is a drop of at most 0.02 nDCG@10.
The retrievers of `bench/e2e.py` (MNRL on gold labels, the LSR query encoders, end-to-end), when present in
`bench/e2e-work`, are scored on the second source too.
Rerankers (`train_reranker`, ListNet, from the MiniLM weights) on the same labelled + generated questions: with 0/1
labels, distilled from the `+ generated` retriever of the same seed (its similarities as soft labels), and a small
one (3 negatives, 128 tokens, 1 epoch) sized to train in 10 minutes on 2 CPU cores. Each reranks
the top `--rr_depth` of two first stages, the base retriever and that trained retriever, alone and fused (RRF), on the
same docs test questions; rerankers whose folders are still in `--work` also rerank the hybrid first stage (BM25 + base
dense, RRF). BM25 and hybrid are reported alone too: they are the peers a practitioner would try first. Everything is
cached under `--work` (resumable); the GPU is used when there is one.
"""
import argparse, json, os, re, sys, time
from pathlib import Path
import numpy as np
import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from ragft_nb.data import atomic_write_bytes, load_bundled, load_qa, read_jsonl, split_qa
from ragft_nb.models import load_embedder, load_generator
from ragft_nb.retrieve import build_retriever, load_reranker, rrf, with_reranker
from ragft_nb.rerank import train_reranker
from ragft_nb.evaluate import (answer_records, bootstrap_ci, cached_json, paired_bootstrap, query_retrieval_metrics,
                               score_runs, select_split, verdict)
from ragft_nb.train_retriever import synthetic_questions, title_queries, train_retriever
from gitdocs import build_git_corpus

DEVICE = 'cuda' if torch.cuda.is_available() else 'cpu'
RERANKERS = {'ListNet, 0/1 labels': dict(slug='labels'),   # name -> cache slug and what differs from the --rr_* settings
             'ListNet, distilled': dict(slug='distil', distil=True),   # soft labels: the `+ generated` retriever of the same seed
             'ListNet, 0/1 labels, small: 3 negatives, 128 tokens, 1 epoch': dict(slug='small', n_negatives=3, max_length=128, epochs=1)}   # sized for 10 min on 2 cores
LEXICAL = ('bm25', 'hybrid')   # first stages a practitioner would also try: BM25 (bm25s) and its RRF with the base dense retriever
CONFIGS = {'questions': (False, False), '+ generated': (False, True), '+ headings': (True, False), '+ both': (True, True)}

def rows(retriever, questions):
    "Per-question Recall@1 and nDCG@10 of `retriever` on `questions`."
    hits = retriever([q['question'] for q in questions], 10)
    return [query_retrieval_metrics([i for i, _ in h], set(q['gold_ids'])) for h, q in zip(hits, questions)]

def as_json(hits): return [[[pid, float(s)] for pid, s in h] for h in hits]

def fuse(first, ranked, depth):
    "Per question, the first stage's top `depth` and the reranker's order voted together (RRF), as `with_reranker(fuse=True)`."
    return [rrf([[tuple(x) for x in f[:depth]], [tuple(x) for x in g]]) for f, g in zip(first, ranked)]

def rerank(model, questions, hits, by_id):
    "Each question's stored hits reordered by the cross-encoder's score, best first: the library's `with_reranker`."
    stored = dict(zip([q['question'] for q in questions], hits))
    def first(queries, k): return [stored[q][:k] for q in queries]
    first.method, first.dense, first.bm25 = 'stored', None, None
    depth = max(len(h) for h in hits)
    return with_reranker(first, model, by_id, depth=depth, batch_size=64)([q['question'] for q in questions], depth)

def main(a):
    work = Path(a.work)
    docs, qa = load_bundled('faq' if a.quick else 'docs')
    faq_qa = [q for q in qa if 'split' not in q]
    train_q = split_qa(faq_qa)['train'][:16 if a.quick else None]
    docs_sets = {'FAQ valid+test': select_split(faq_qa, 'valid+test'), 'held-out docs': [q for q in qa if q.get('split') == 'test']}
    docs_sets = {k: v for k, v in docs_sets.items() if v}   # the FAQ corpus (--quick) has no held-out docs questions
    docs_q = [q for qs in docs_sets.values() for q in qs]
    git = read_jsonl(a.git_corpus) if a.git_corpus else build_git_corpus(); git_q = load_qa(HERE/'data'/'git_qa.jsonl', git)
    base = load_embedder()
    evaluate = lambda m, **kw: {'docs': rows(build_retriever(docs, 'dense', m, **kw.get('docs', {})), docs_q),
                                'git': rows(build_retriever(git, 'dense', m, **kw.get('git', {})), git_q)}
    res = {'base': cached_json(work/'base.json', lambda: evaluate(base)), 'models': {}}
    heads = title_queries(docs, a.headings, seed=0)
    def make_synthetic():
        t = time.time()
        gen = load_generator(device=DEVICE, dtype=torch.bfloat16 if DEVICE == 'cuda' else None)
        kept, n = synthetic_questions(docs, *gen, build_retriever(docs, 'dense', base), a.synthetic, k=3, seed=0, batch_size=a.gen_batch)
        return {'questions': kept, 'counts': n, 'seconds': time.time() - t, 'device': DEVICE}
    syn = cached_json(work/f'synthetic-{a.synthetic}.json', make_synthetic)
    res['weak'] = {'headings': len(heads), 'synthetic': syn['counts'], 'synthetic_seconds': syn['seconds'], 'synthetic_device': syn.get('device', 'cuda'),
                   'synthetic_examples': [q['question'] for q in syn['questions'][:8]]}
    print(f"weak supervision: {len(heads)} headings; generated {syn['counts']['questions']} questions for "
          f"{syn['counts']['passages']} passages, kept {syn['counts']['kept']}", flush=True)
    e2e = HERE/'e2e-work'   # other trained retrievers of this project, on the second source
    for kind, label in (('mnrl', 'MNRL, gold labels (bench/e2e.py)'), ('lsr', 'LSR query encoder (bench/e2e.py)'), ('e2e', 'end-to-end (bench/e2e.py)')):
        for d in sorted(e2e.glob(f'{kind}-seed*/')):
            path = d if (d/'config.json').is_file() else d/'retriever'   # a query encoder loads with its passage encoder attached
            if not (path/'config.json').is_file(): continue
            run_other = lambda: {'git': rows(build_retriever(git, 'dense', load_embedder(str(path))), git_q)}
            res['models'].setdefault(label, []).append(cached_json(work/f'other-{d.name}-git.json', run_other))
    for seed in range(a.seeds):
        for name, (h, s) in CONFIGS.items():
            slug = name.replace('+ ', 'plus-')
            if a.no_train and not (work/f'{slug}-seed{seed}.json').is_file(): continue   # report what is cached
            def run():
                qs = train_q + (heads if h else []) + (syn['questions'] if s else [])
                m = train_retriever(docs, qs, work/f'{slug}-seed{seed}', seed=seed)
                t = time.time(); ev = evaluate(load_embedder(str(work/f'{slug}-seed{seed}')))
                return {'train': m | {'questions': len(qs), 'device': DEVICE}, 'eval_seconds': time.time() - t, **ev}
            r = cached_json(work/f'{slug}-seed{seed}.json', run)
            res['models'].setdefault(name, []).append(r)
            write(res, docs_sets, git_q, a)   # the tables so far: a run stopped early still reports what it finished
            print(f"{name} seed {seed}: {r['train']['questions']} training questions, trained in {r['train']['seconds']:.0f}s; "
                  f"docs nDCG@10 {np.mean([x['ndcg@10'] for x in r['docs']]):.3f}, git {np.mean([x['ndcg@10'] for x in r['git']]):.3f}", flush=True)
        if seed < a.rr_seeds:   # this seed's rerankers before the next seed's retrievers: a run cut short has whole seeds
            res['rerank'] = rerank_stage(work, docs, train_q + syn['questions'], docs_q, base, a, seed + 1)
            write(res, docs_sets, git_q, a)
    if a.answers: res['answers'] = answer_stage(work, docs, docs_q, res['rerank'], base)
    write(res, docs_sets, git_q, a)

ANSWER = dict(max_context_tokens=512, max_new_tokens=64, batch_size=8)   # as `bench/raft.py`: top 2 passages in 512 tokens, <= 64 new tokens

def answer_stage(work, docs, docs_q, rr, emb):
    "Base SmolLM2 + RAG answers from the stored top 2 of the base retriever and the best two-stage system (one answer set per seed)."
    by_id, model, tok, cache = {p['id']: p for p in docs}, None, None, {}
    lookup = lambda hits: (lambda queries, k: [[tuple(x) for x in h[:k]] for h in hits])   # stored hits, in question order
    runs = {'base retriever': [rr['first']['base']],   # the base RAG pipeline against the best two-stage retrieval above
            'trained retriever + reranker (ListNet, 0/1 labels), fused': [fuse(f, r['ranked']['trained'], rr['depth']) for f, r in zip(rr['first']['trained'], rr['runs']['ListNet, 0/1 labels'])]}
    out = {}
    for name, hit_sets in runs.items():
        per_seed = []
        for i, hits in enumerate(hit_sets):
            def make():
                nonlocal model, tok
                if model is None: model, tok = load_generator()
                return answer_records(model, tok, docs_q, lookup(hits), by_id, 2, **ANSWER, cache=cache)
            slug = re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')
            per_seed.append(cached_json(work/f'answers-{slug}-{i}.json', make))
        summ = score_runs(docs_q, per_seed, by_id, emb, gold_support=True); avg = summ.pop('rows')
        out[name] = {'seeds': len(per_seed), 'f1': summ['f1'], 'per_question_f1': [r['f1'] for r in avg]}
        print(f"answers, {name}: F1 {summ['f1'][0]:.3f}", flush=True)
    return out

def rerank_stage(work, docs, train_q, docs_q, base, a, n_seeds):
    "Train each reranker for seeds `0..n_seeds-1` and rerank the top `a.rr_depth` of the base, trained and hybrid first stages (cached, resumable)."
    by_id, qtexts = {p['id']: p for p in docs}, [q['question'] for q in docs_q]
    out = {'depth': a.rr_depth, 'questions': len(train_q), 'device': DEVICE,
           'first': {'base': cached_json(work/'hits-base.json', lambda: as_json(build_retriever(docs, 'dense', base)(qtexts, a.rr_depth))),
                     **{m: cached_json(work/f'hits-{m}.json', lambda: as_json(build_retriever(docs, m, base)(qtexts, a.rr_depth))) for m in LEXICAL},
                     'trained': []},
           'runs': {}}
    for seed in range(n_seeds):
        if a.no_train and not all((work/f"rr-{v['slug']}-seed{seed}-ranked.json").is_file() for v in RERANKERS.values()): continue
        tdir = work/f'plus-generated-seed{seed}'   # the trained first stage and the teacher: MNRL on questions + generated
        trained = cached_json(work/f'hits-plus-generated-seed{seed}.json', lambda: as_json(build_retriever(docs, 'dense', load_embedder(str(tdir)))(qtexts, a.rr_depth)))
        out['first']['trained'].append(trained)
        for name, v in RERANKERS.items():
            slug = f"rr-{v['slug']}-seed{seed}"; d = work/slug
            m = cached_json(work/f'{slug}-train.json', lambda: {'device': DEVICE} | train_reranker(docs, train_q, d, 'listnet', n_negatives=v.get('n_negatives', a.rr_negatives),
                                                                        epochs=v.get('epochs', a.rr_epochs), lr=a.rr_lr, batch_size=a.rr_batch,
                                                                        max_length=v.get('max_length', a.rr_max_length),
                                                                        teacher=str(tdir) if v.get('distil') else None, seed=seed))
            def ranked(**firsts):   # first stage name -> its stored hits, reordered by this reranker
                model = load_reranker(d)
                return {fs: as_json(rerank(model, docs_q, [[tuple(x) for x in h] for h in hits], by_id)) for fs, hits in firsts.items()}
            run = {'train': {k: v for k, v in m.items() if k != 'loss_curve'},
                   'ranked': cached_json(work/f'{slug}-ranked.json', lambda: ranked(base=out['first']['base'], trained=trained))}
            if (d/'config.json').is_file() or (work/f'{slug}-ranked-hybrid.json').is_file():   # the hybrid first stage came later: rerankers kept here
                run['ranked']['hybrid'] = cached_json(work/f'{slug}-ranked-hybrid.json', lambda: ranked(hybrid=out['first']['hybrid'])['hybrid'])
            out['runs'].setdefault(name, []).append(run)
            print(f"reranker {name} seed {seed}: {m['examples']} lists, trained in {m['seconds']:.0f}s", flush=True)
    return out

def write(res, docs_sets, git_q, a):
    res['config'] = {k: v for k, v in vars(a).items() if k not in ('work', 'results', 'git_corpus', 'report')}
    res['env'] = {'cpus': os.cpu_count(), 'torch': torch.__version__, 'threads': torch.get_num_threads(), 'date': time.strftime('%Y-%m-%d')}
    res['sets'] = {**{k: len(v) for k, v in docs_sets.items()}, 'git (second source)': len(git_q)}
    res['docs_gold'] = [q['gold_ids'] for qs in docs_sets.values() for q in qs]
    md = markdown(res, docs_sets, a)
    atomic_write_bytes(Path(a.results)/'weak_supervision.json', (json.dumps(res, separators=(',', ':')) + '\n').encode())   # compact: per-question rows and hit lists
    atomic_write_bytes(Path(a.results)/'weak_supervision.md', md.encode())
    print(md, flush=True)

def markdown(res, docs_sets=None, a=None):
    n_faq = res['sets']['FAQ valid+test']
    parts = {'FAQ valid+test': ('docs', slice(0, n_faq)), 'held-out docs': ('docs', slice(n_faq, None)), 'git (second source)': ('git', slice(None))}
    parts = {k: v for k, v in parts.items() if res['sets'].get(k)}
    w = res['weak']
    lines = ['# Weak supervision for the retriever, and forgetting on a second knowledge source', '',
             f"Made by `bench/weak_supervision.py` on {res['env']['date']}: all-MiniLM-L6-v2 fine-tuned with MNRL (mined hard negatives, "
             f"1 epoch) on the 90 FAQ training questions, plus {w['headings']} section headings and/or the generated questions: the "
             f"bundled SmolLM2 wrote {w['synthetic']['questions']} questions for {w['synthetic']['passages']} sampled docs passages "
             f"({w['synthetic_seconds'] / 60:.1f} min on {'the lent GPU' if w.get('synthetic_device', 'cuda') == 'cuda' else 'the CPU'}), of which the round trip (base retriever finds the passage in its top 3) kept "
             f"**{w['synthetic']['kept']}**. Dense exact search; 95% bootstrap intervals over questions; each difference is a paired "
             f"bootstrap against the base model on the same questions (seeds averaged per question first).", '',
             '| retriever | seeds | ' + ' | '.join(f"{p} ({res['sets'][p]}) nDCG@10 | vs base" for p in parts) + ' |',
             '|---|---|' + '---|---|' * len(parts)]
    def cell(runs, part):
        key, sl = parts[part]
        if not all(key in r for r in runs): return '— | —'
        avg = np.mean([[x['ndcg@10'] for x in r[key][sl]] for r in runs], axis=0)
        b = [x['ndcg@10'] for x in res['base'][key][sl]]
        ci, d = bootstrap_ci(avg), paired_bootstrap(b, avg)
        return f"{ci[0]:.3f} [{ci[1]:.2f}, {ci[2]:.2f}] | {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] → {verdict(d)}"
    lines.append('| base | — | ' + ' | '.join(cell([res['base']], p).split(' | ')[0] + ' | —' for p in parts) + ' |')
    for name, runs in res['models'].items():
        lines.append(f"| {name} | {len(runs)} | " + ' | '.join(cell(runs, p) for p in parts) + ' |')
    lines.append('')
    git_drops = {n: paired_bootstrap([x['ndcg@10'] for x in res['base']['git']], np.mean([[x['ndcg@10'] for x in r['git']] for r in runs], axis=0))[0]
                 for n, runs in res['models'].items()}
    q0 = res['models'].get('questions')
    for name, runs in res['models'].items():   # what each weak source adds on top of the labelled questions
        if name in CONFIGS and name != 'questions' and q0:
            for part in [p for p in parts if p != 'git (second source)']:
                key, sl = parts[part]
                d = paired_bootstrap(np.mean([[x['ndcg@10'] for x in r[key][sl]] for r in q0], axis=0),
                                     np.mean([[x['ndcg@10'] for x in r[key][sl]] for r in runs], axis=0))
                lines.append(f"- {name} vs questions only, {part}: nDCG@10 {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] → {verdict(d)}")
    if not git_drops: return '\n'.join(lines)
    worst = min(git_drops, key=git_drops.get)
    lines += ['', f"Second source: the worst change of git nDCG@10 is {git_drops[worst]:+.3f} ({worst}); no retriever lost more than "
              f"the 0.02 budget → met." if git_drops[worst] >= -0.02 else
              f"Second source: {worst} changes git nDCG@10 by {git_drops[worst]:+.3f}, past the 0.02 budget.", '',
              'Examples of kept generated questions: ' + '; '.join(f'"{q}"' for q in w['synthetic_examples'][:5]) + '.', '',
              f"Where the models trained: {trained_where(res)}. Report written on {res['env']['cpus']} cores, torch {res['env']['torch']}.", '']
    if res.get('rerank'): lines += rerank_markdown(res)
    return '\n'.join(lines)

def trained_where(res):
    "Which device trained which runs (records without a device come from the GPU run, which wrote none)."
    runs = [(f"{n} seed {i}", r['train'].get('device', 'cuda')) for n, rs in res['models'].items() if n in CONFIGS for i, r in enumerate(rs)]
    runs += [(f"reranker {n} seed {i}", r['train'].get('device', 'cuda')) for n, rs in res.get('rerank', {}).get('runs', {}).items() for i, r in enumerate(rs)]
    cpu = [n for n, d in runs if d == 'cpu']
    return (f"the lent H100 for {len(runs) - len(cpu)} of {len(runs)} runs; 2 CPU cores for " + ', '.join(cpu)) if cpu else f"all {len(runs)} runs on {runs[0][1] if runs else '—'}"

def rerank_systems(rr, docs_q):
    "Per-question retrieval metrics of every first stage and reranked system: name -> (first stage name, [per-seed rows])."
    hits = lambda h: [[tuple(x) for x in q] for q in h]
    rows_of = lambda hs: [query_retrieval_metrics([p for p, _ in h], set(q['gold_ids'])) for h, q in zip(hs, docs_q)]
    d = rr['depth']
    names = {'base': 'base retriever', 'bm25': 'BM25', 'hybrid': 'hybrid retriever (BM25 + base, RRF)', 'trained': 'trained retriever (+ generated)'}
    out = {names[fs]: (None, [rows_of(hits(rr['first'][fs]))]) for fs in ('base', *LEXICAL) if fs in rr['first']}
    out[names['trained']] = (None, [rows_of(hits(h)) for h in rr['first']['trained']])
    for name, runs in rr['runs'].items():
        for fs in ('base', 'hybrid', 'trained'):
            if not all(fs in r['ranked'] for r in runs): continue   # hybrid: only rerankers whose folders were kept
            fs_name = names[fs]
            firsts = [hits(h) for h in rr['first']['trained'][:len(runs)]] if fs == 'trained' else [hits(rr['first'][fs])] * len(runs)
            ranked = [hits(r['ranked'][fs]) for r in runs]
            label = f"{fs_name.split(' (')[0].replace(' retriever', '')} + reranker ({name}) @{d}"
            out[label] = (fs_name, [rows_of(r) for r in ranked])
            out[label + ' fused (RRF)'] = (fs_name, [rows_of(fuse(fr, r, d)) for fr, r in zip(firsts, ranked)])
    return out

def rerank_markdown(res):
    "The reranker table: retrieval of each system on the docs test questions, and what each component adds."
    rr, sets = res['rerank'], res['sets']
    docs_q = [{'gold_ids': g} for g in res['docs_gold']]
    systems = rerank_systems(rr, docs_q)
    avg = lambda runs, m: np.mean([[x[m] for x in r] for r in runs], axis=0)
    lines = ['## Retriever and reranker together', '',
             f"Rerankers: cross-encoders from the MiniLM weights trained with ListNet on the {rr['questions']} labelled + generated questions "
             f"(mined negatives, {res['config'].get('rr_negatives')} per question; {res['config'].get('rr_epochs')} epochs; max length {res['config'].get('rr_max_length')}; 0/1 labels, or the `+ generated` retriever's similarities as soft labels; the 'small' one with the settings its name gives, to train in 10 minutes on 2 cores). Each reorders "
             f"the top {rr['depth']} of its first stage; 'fused' votes the two rankings together (RRF). Test: the {len(docs_q)} docs-corpus "
             f"questions above (FAQ valid+test and held-out docs), never trained on.", '',
             '| system | seeds | R@1 | nDCG@10 | R@1 vs its first stage | nDCG@10 vs its first stage | train s |', '|---|---|---|---|---|---|---|']
    for name, (fs, runs) in systems.items():
        ci = {m: bootstrap_ci(avg(runs, m)) for m in ('recall@1', 'ndcg@10')}
        vs = {m: paired_bootstrap(avg(systems[fs][1], m), avg(runs, m)) if fs else None for m in ci}
        rn = next((v for k, v in rr['runs'].items() if f'({k})' in name), None)
        secs = f"{np.mean([r['train']['seconds'] for r in rn]):.0f}" if rn else '—'
        lines.append(f"| {name} | {len(runs)} | " + ' | '.join(f"{c[0]:.3f} [{c[1]:.2f}, {c[2]:.2f}]" for c in ci.values()) + ' | '
                     + ' | '.join('—' if v is None else f"{v[0]:+.3f} [{v[1]:+.3f}, {v[2]:+.3f}] → {verdict(v)}" for v in vs.values()) + f' | {secs} |')
    best = max(systems, key=lambda n: np.mean(avg(systems[n][1], 'ndcg@10')))
    b_r1, b_nd = np.mean(avg(systems[best][1], 'recall@1')), np.mean(avg(systems[best][1], 'ndcg@10'))
    base_rows = systems['base retriever'][1]
    gain = lambda n: paired_bootstrap(avg(base_rows, 'ndcg@10'), avg(systems[n][1], 'ndcg@10'))
    rer = [n for n in systems if systems[n][0] == 'base retriever']
    both = [n for n in systems if systems[n][0] == 'trained retriever (+ generated)']
    best_r = max(rer, key=lambda n: np.mean(avg(systems[n][1], 'ndcg@10'))); best_b = max(both, key=lambda n: np.mean(avg(systems[n][1], 'ndcg@10')))
    fmt = lambda d: f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] → {verdict(d)}"
    lines += ['', f"- best system: **{best}**, R@1 {b_r1:.3f}, nDCG@10 {b_nd:.3f} (targets R@1 ≥ 0.70: {'met' if b_r1 >= .70 else 'missed'}; "
              f"nDCG@10 ≥ 0.82: {'met' if b_nd >= .82 else 'missed'})",
              f"- each component against the base retriever, nDCG@10: trained retriever {fmt(gain('trained retriever (+ generated)'))}; "
              f"best reranker on the base retriever ({best_r}) {fmt(gain(best_r))}; both ({best_b}) {fmt(gain(best_b))}"]
    peers = [p for p in ('BM25', 'hybrid retriever (BM25 + base, RRF)') if p in systems and p != best]
    if peers: lines.append(f"- the best system against the lexical first stages a practitioner would try first, nDCG@10: " + '; '.join(
        f"vs {p} {fmt(paired_bootstrap(avg(systems[p][1], 'ndcg@10'), avg(systems[best][1], 'ndcg@10')))}" for p in peers))
    lines.append('')
    if res.get('answers'):
        A = res['answers']
        lines += ['### Do better rankings give better answers?', '',
                  f"Base SmolLM2 + RAG (top 2 passages in a 512-token budget, greedy, ≤ 64 new tokens) on the same {len(docs_q)} questions, "
                  "answer token F1 against the curated references; 95% intervals over questions, seeds averaged per question.", '',
                  '| passages from | seeds | answer F1 | vs base retriever |', '|---|---|---|---|']
        ref = A['base retriever']['per_question_f1']
        for name, x in A.items():
            d = paired_bootstrap(ref, x['per_question_f1']) if name != 'base retriever' else None
            lines.append(f"| {name} | {x['seeds']} | {x['f1'][0]:.3f} [{x['f1'][1]:.2f}, {x['f1'][2]:.2f}] | {fmt(d) if d else '—'} |")
        lines.append('')
    return lines

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seeds', type=int, default=3)
    ap.add_argument('--headings', type=int, default=300, help='section-heading pseudo-questions')
    ap.add_argument('--synthetic', type=int, default=400, help='passages to write a question for (before the round trip)')
    ap.add_argument('--gen_batch', type=int, default=32, help='chats per generation batch')
    ap.add_argument('--rr_seeds', type=int, default=None, help='reranker seeds (default: --seeds)')
    ap.add_argument('--rr_depth', type=int, default=20, help='first-stage passages each reranker reorders')
    ap.add_argument('--rr_negatives', type=int, default=7, help='mined negatives per question in a reranker list')
    ap.add_argument('--rr_epochs', type=int, default=2); ap.add_argument('--rr_lr', type=float, default=2e-4)
    ap.add_argument('--rr_batch', type=int, default=16); ap.add_argument('--rr_max_length', type=int, default=256)
    ap.add_argument('--work', default=str(HERE/'weak-work'), help='cache folder (models, per-run JSON)')
    ap.add_argument('--results', default=str(HERE), help='folder for weak_supervision.{json,md}')
    ap.add_argument('--git_corpus', help='the git corpus as JSONL (default: build it from /usr/share/doc/git-doc)')
    ap.add_argument('--no_train', action='store_true', help='train nothing: report the runs already cached in --work')
    ap.add_argument('--answers', action='store_true', help='also answer the docs test questions with the base generator from each system\'s top 2')
    ap.add_argument('--quick', action='store_true', help='toy size on the FAQ corpus: checks the wiring')
    ap.add_argument('--report', action='store_true', help='only rewrite the markdown from weak_supervision.json')
    a = ap.parse_args()
    if a.rr_seeds is None: a.rr_seeds = a.seeds
    if a.quick: a.seeds, a.rr_seeds, a.headings, a.synthetic, a.rr_depth, a.rr_epochs = 1, 1, 10, 6, 5, 1
    if a.report: atomic_write_bytes(Path(a.results)/'weak_supervision.md', markdown(json.loads((Path(a.results)/'weak_supervision.json').read_text())).encode())
    else: main(a)
