"""The learning-to-rank reranker (step 10) against its first stage, the untrained hybrid and the cross-encoder, 3 seeds,
with paired intervals; its filter (a threshold chosen on validation) and what ranking changes in the answers.

    .venv/bin/python bench/ltr.py            # faq (the main job's size) and docs (the benches' size) + git docs; ~15 min on 2 cores
    .venv/bin/python bench/ltr.py --quick    # faq only, 1 seed, no cross-encoder, no answers
    .venv/bin/python bench/ltr.py --readers SmolLM2-135M-Instruct qwen2.5-coder-0.5b   # answers with both readers (qwen extra)

faq: trains on the 90 FAQ train questions, picks the tree count on the 40 valid ones, tests on the 37 test ones (169
passages). The peer is the cross-encoder of `ragft_train_reranker --kind cross` at its defaults (ListNet, 2 epochs, no
heading pseudo-questions), on the same questions. Filter: the LTR score threshold `pick_threshold` chooses on the
validation questions' reranked lists drops passages below it from the top-2 prompt (the best one always stays); the
bundled 135M reader (and each other reader in --readers) answers the test questions with the first stage's top 2, the
reranked top 2 and the filtered top 2.
docs: trains on the 90 FAQ train questions (72 fit, 18 pick the tree count; the fold changes with the seed) over 8,391
passages, tests on the 199 questions of bench/weak_supervision.md (FAQ valid+test and held-out docs; also reported for each of the
two populations apart, since the trees saw only the first kind); the same trees then
rerank the git documentation (bench/gitdocs.py, 60 questions), a source they never saw. Writes bench/ltr.json and bench/ltr.md.
"""
import argparse, json, sys, time
from pathlib import Path
import numpy as np
from ragft_nb.data import atomic_write_bytes, load_bundled, load_qa, split_qa
from ragft_nb.models import DEFAULT_GENERATOR, QWEN_GENERATOR, load_embedder, load_generator
from ragft_nb.retrieve import build_retriever, load_reranker, with_reranker
from ragft_nb.generate import answer_questions
from ragft_nb.evaluate import bootstrap_ci, paired_bootstrap, query_retrieval_metrics, select_split, verdict
from ragft_nb.rerank import pick_threshold, train_ltr, train_reranker
from ragft_nb.train_retriever import synthetic_questions
from ragft_nb.evaluate import score_answers

HERE = Path(__file__).parent
K, BUDGET, NEW_TOKENS = 2, 256, 48   # the main job's prompt: top 2 passages, 256-token budget, 48 new tokens

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

def train_all(passages, train, valid, seeds, depth, work, emb, firsts):
    "One LTR reranker per first stage and seed; without `valid`, a seeded 80/20 fold of `train` picks the tree count."
    info = {}
    for f, first in firsts.items():
        for s in range(seeds):
            tr, va = (train, valid) if valid else (lambda qs: (qs[:int(.8 * len(qs))], qs[int(.8 * len(qs)):]))(list(np.random.default_rng(s).permutation(train)))
            info[f, s] = train_ltr(passages, tr, first, work/f'{f}_{s}', va, depth=depth, embedder=emb, seed=s)
    return info

def reranked(firsts, passages, work, seeds, depth, **kw):
    "`with_reranker` over each first stage, one per seed (the folders of `train_all`)."
    by_id = {p['id']: p for p in passages}
    return {f: [with_reranker(first, load_reranker(work/f'{f}_{s}', passages=passages), by_id, depth, **kw) for s in range(seeds)] for f, first in firsts.items()}

def by_population(table, sizes, ref):
    "nDCG@10 of each system on each consecutive block of test questions (`sizes`: name -> count), paired against `ref` on the same block."
    out, start = {}, 0
    for name, n in sizes.items():
        sl = slice(start, start + n); start += n
        base = np.array(table[ref]['ndcg@10_per_q'][sl])
        out[name] = {'questions': n, **{s: {'ndcg@10': float(np.mean(x['ndcg@10_per_q'][sl])), f'vs {ref}': paired_bootstrap(base, np.array(x['ndcg@10_per_q'][sl]))}
                                       for s, x in table.items() if s != ref}, ref: {'ndcg@10': float(base.mean())}}
    return out

def summary(info, first):
    seeds = [v for (f, _), v in info.items() if f == first]
    return {'train_seconds': float(np.mean([i['seconds'] for i in seeds])), 'trees': [i['trees'] for i in seeds],
            'importance': {k: float(np.mean([i['importance'][k] for i in seeds])) for k in seeds[0]['importance']}}

def timed(ret, qs):
    t = time.time(); ret([q['question'] for q in qs], 10); return 1000 * (time.time() - t) / len(qs)

def answers(model, tok, qs, ret, by_id, emb):
    out = answer_questions(qs, ret, by_id, model, tok, k=K, max_context_tokens=BUDGET, max_new_tokens=NEW_TOKENS, batch_size=32)
    rec = [{'answer': r['answer'], 'passage_ids': [p['id'] for p in r['passages']], 'cited_ids': r['cited_ids']} for r in out]
    return [r['f1'] for r in score_answers(qs, rec, by_id, emb)], [len(r['passage_ids']) for r in rec]

def faq_section(a, emb, seeds, work):
    passages, qa = load_bundled('faq'); sp = split_qa(qa); by_id = {p['id']: p for p in passages}
    firsts = {'dense': build_retriever(passages, 'dense', emb), 'hybrid': build_retriever(passages, 'hybrid', emb)}
    info = train_all(passages, sp['train'], sp['valid'], seeds, a.depth, work, emb, firsts)
    ltr = reranked(firsts, passages, work, seeds, a.depth)
    sysm = {'base dense': ([firsts['dense']], None), 'hybrid (RRF)': ([firsts['hybrid']], None),
            f'dense + LTR @{a.depth}': (ltr['dense'], 'base dense'), f'hybrid + LTR @{a.depth}': (ltr['hybrid'], 'hybrid (RRF)')}
    res = {'questions': len(sp['test']), **summary(info, 'dense'), 'ms_per_query': timed(ltr['dense'][0], sp['test'][:20])}
    if not a.quick:   # the peer: the cross-encoder at the CLI's defaults, on the same training questions
        ce = train_reranker(passages, sp['train'], work/'cross', 'listnet', 0, seed=0)
        sysm[f'dense + cross-encoder @{a.depth}'] = ([with_reranker(firsts['dense'], load_reranker(work/'cross'), by_id, a.depth)], 'base dense')
        res |= {'cross_seconds': ce['seconds'], 'cross_steps': ce['steps'], 'cross_loss': ce['loss_curve'][-1:]}
        res['cross_ms_per_query'] = timed(sysm[f'dense + cross-encoder @{a.depth}'][0][0], sp['test'][:20])
    res['rows'] = rows(sysm, sp['test'])
    # the filter: a threshold on the LTR score, chosen on validation, per seed
    vq = [q['question'] for q in sp['valid']]
    thresholds = [pick_threshold(r(vq, K), sp['valid'])[0] for r in ltr['dense']]
    filt = [with_reranker(firsts['dense'], load_reranker(work/f'dense_{s}', passages=passages), by_id, a.depth, threshold=t)
            for s, t in enumerate(thresholds)]
    tq = [q['question'] for q in sp['test']]
    res['filter'] = {'thresholds': thresholds, 'kept_per_question': float(np.mean([len(h) for f in filt for h in f(tq, K)])), 'k': K}
    if not a.quick:   # what the ranking and the filter change in the answers of each reader (seed 0's reranker)
        res['answers'] = {}
        for reader in a.readers:
            model, tok = load_generator(reader)
            f1 = {n: answers(model, tok, sp['test'], r, by_id, emb)[0] for n, r in
                  {'dense top 2': firsts['dense'], 'dense + LTR top 2': ltr['dense'][0], 'dense + LTR, filtered': filt[0]}.items()}
            res['answers'][reader] = {n: {'f1': bootstrap_ci(v), 'vs dense top 2': paired_bootstrap(f1['dense top 2'], v)} for n, v in f1.items()}
            del model
    return res

def docs_sections(a, emb, seeds, work):
    passages, qa = load_bundled('docs'); faq = [x for x in qa if x.get('split') != 'test']
    held = [x for x in qa if x.get('split') == 'test']; test = select_split(faq, 'valid+test') + held   # two populations, in this order
    firsts = {'dense': build_retriever(passages, 'dense', emb), 'hybrid': build_retriever(passages, 'hybrid', emb)}
    info = train_all(passages, split_qa(faq)['train'], None, seeds, a.depth, work, emb, firsts)
    ltr = reranked(firsts, passages, work, seeds, a.depth)
    sysm = {'base dense': ([firsts['dense']], None), 'hybrid (RRF)': ([firsts['hybrid']], None),
            f'dense + LTR @{a.depth}': (ltr['dense'], 'hybrid (RRF)'), f'hybrid + LTR @{a.depth}': (ltr['hybrid'], 'hybrid (RRF)')}
    # training questions of the second population: the writer asks one question per sampled passage, kept when the hybrid's top `depth` holds it
    gen_f = work/f'generated_{a.writer}_{a.synthetic}.json'
    if not gen_f.is_file():
        t, (model, tok) = time.time(), load_generator(a.writer)
        syn, n = synthetic_questions(passages, model, tok, firsts['hybrid'], a.synthetic, k=a.depth, seed=0)
        atomic_write_bytes(gen_f, json.dumps({'kept_questions': syn, **n, 'seconds': time.time() - t}).encode()); del model
    gen = json.loads(gen_f.read_text())
    info_g = train_all(passages, split_qa(faq)['train'] + gen['kept_questions'], None, seeds, a.depth, work/'generated', emb, firsts)
    ltr_g = reranked(firsts, passages, work/'generated', seeds, a.depth)
    sysm |= {f'dense + LTR + generated @{a.depth}': (ltr_g['dense'], 'hybrid (RRF)'), f'hybrid + LTR + generated @{a.depth}': (ltr_g['hybrid'], 'hybrid (RRF)')}
    docs = {'questions': len(test), 'rows': rows(sysm, test), **summary(info, 'hybrid'), 'ms_per_query': timed(ltr['hybrid'][0], test[:20]),
            'generated': {'writer': a.writer, **{k: gen[k] for k in ('passages', 'questions', 'kept', 'seconds')},
                          'examples': [q['question'] for q in gen['kept_questions'][:5]], **summary(info_g, 'hybrid')}}
    docs['by_population'] = by_population(docs['rows'], {'FAQ-style (FAQ valid+test)': len(test) - len(held), 'held-out docs': len(held)}, 'hybrid (RRF)')
    sys.path.insert(0, str(HERE)); from gitdocs import build_git_corpus, QA_PATH
    gp = build_git_corpus(); gq = load_qa(QA_PATH, gp)
    gf = {'dense': build_retriever(gp, 'dense', emb), 'hybrid': build_retriever(gp, 'hybrid', emb)}
    gl, gg = reranked(gf, gp, work, seeds, a.depth), reranked(gf, gp, work/'generated', seeds, a.depth)   # the docs-trained trees, on a corpus they never saw
    sysm = {'base dense': ([gf['dense']], None), 'hybrid (RRF)': ([gf['hybrid']], None),
            f'dense + LTR @{a.depth}': (gl['dense'], 'base dense'), f'hybrid + LTR @{a.depth}': (gl['hybrid'], 'hybrid (RRF)'),
            f'dense + LTR + generated @{a.depth}': (gg['dense'], 'base dense'), f'hybrid + LTR + generated @{a.depth}': (gg['hybrid'], 'hybrid (RRF)')}
    return docs, {'questions': len(gq), 'rows': rows(sysm, gq)}

def main(a):
    emb, seeds, res, t0 = load_embedder(), 1 if a.quick else 3, {}, time.time()
    work = Path(a.work); work.mkdir(parents=True, exist_ok=True)
    res['faq'] = faq_section(a, emb, seeds, work/'faq'); print('faq done', f'{time.time() - t0:.0f}s', flush=True)
    if not a.quick: res['docs'], res['git'] = docs_sections(a, emb, seeds, work/'docs')
    res['seconds'] = time.time() - t0
    res['conclusions'] = conclusions(res, a.depth)
    atomic_write_bytes(HERE/'ltr.json', json.dumps(res, indent=1).encode())
    md = markdown(res); atomic_write_bytes(HERE/'ltr.md', md.encode()); print(md)

def conclusions(res, depth):
    "One sentence per comparison, its verdict computed from the paired interval."
    out = []
    for c in ('faq', 'docs', 'git'):
        for name, x in res.get(c, {}).get('rows', {}).items():
            for m in ('recall@1', 'ndcg@10'):
                ref = next((k.split(' vs ')[1] for k in x if k.startswith(f'{m} vs ')), None)
                if ref: d = x[f'{m} vs {ref}']; out.append(f"{c}: {name} vs {ref}: {m} {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] → {verdict(d)}")
    for pop, r in res.get('docs', {}).get('by_population', {}).items():
        for name, x in r.items():
            if name != 'hybrid (RRF)' and 'LTR' in name:
                d = x['vs hybrid (RRF)']; out.append(f"docs, {pop} ({r['questions']} q): {name} vs hybrid (RRF): ndcg@10 {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] → {verdict(d)}")
    for reader, ans in res['faq'].get('answers', {}).items():
        for n, v in ans.items():
            if n != 'dense top 2': d = v['vs dense top 2']; out.append(f"faq answers, {reader}: {n} vs dense top 2: F1 {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] → {verdict(d)}")
    return out

def markdown(res):
    f = lambda x: f"{x[0]:.3f} [{x[1]:.2f}, {x[2]:.2f}]"
    d = lambda x: f"{x[0]:+.3f} [{x[1]:+.3f}, {x[2]:+.3f}] → {verdict(x)}"
    out = ['# The learning-to-rank reranker (LightGBM LambdaRank) vs its first stage, the hybrid and the cross-encoder', '']
    for c in ('faq', 'docs', 'git'):
        if c not in res: continue
        r = res[c]
        out += [f"## {c}: {r['questions']} test questions", '', '| system | seeds | R@1 | nDCG@10 | R@1 vs ref | nDCG@10 vs ref |', '|---|---|---|---|---|---|']
        for name, x in r['rows'].items():
            ref = next((k.split(' vs ')[1] for k in x if k.startswith('ndcg@10 vs ')), None)
            out.append(f"| {name} | {x['seeds']} | {f(x['recall@1'])} | {f(x['ndcg@10'])} | " + (f"{d(x['recall@1 vs ' + ref])} (vs {ref}) | {d(x['ndcg@10 vs ' + ref])} |" if ref else '— | — |'))
        if 'train_seconds' in r:
            out += ['', f"LTR training: {r['train_seconds']:.1f} s per seed (features + LightGBM, 2 cores), trees chosen on validation: {r['trees']}; "
                        f"reranking {r['ms_per_query']:.0f} ms per query (one query encoding, BM25 over the corpus, 9 features x depth rows, the trees).",
                    'Feature importance (gain, mean over seeds): ' + ', '.join(f"{k} {v:.0f}" for k, v in sorted(r['importance'].items(), key=lambda kv: -kv[1]))]
        if 'cross_seconds' in r:
            out.append(f"Cross-encoder: {r['cross_steps']} optimiser steps in {r['cross_seconds']:.0f} s, final ListNet loss {r['cross_loss']}; "
                       f"reranking {r['cross_ms_per_query']:.0f} ms per query (a MiniLM-L6 forward pass per candidate).")
        if 'generated' in r:
            g = r['generated']
            out.append(f"'+ generated': the trees also train on the questions {g['writer']} wrote for {g['passages']} sampled passages ({g['kept']} of "
                       f"{g['questions']} kept: the hybrid's top 20 holds their passage; {g['seconds'] / 60:.1f} min), e.g. " + '; '.join(f'"{q}"' for q in g['examples'][:3])
                       + f". Trees chosen: {g['trees']}; importance: " + ', '.join(f"{k} {v:.0f}" for k, v in sorted(g['importance'].items(), key=lambda kv: -kv[1])[:4]))
        if 'filter' in r:
            fl = r['filter']
            out.append(f"Filter: thresholds chosen on validation {[None if t is None else round(t, 3) for t in fl['thresholds']]}; "
                       f"passages kept in the top-{fl['k']} prompt: {fl['kept_per_question']:.2f} per question on average.")
        if 'by_population' in r:
            out += ['', f"The {r['questions']} test questions are two populations; the plain trees learned from FAQ questions only, the '+ generated' ones also from questions written for the corpus's passages:", '',
                    '| population | questions | hybrid (RRF) nDCG@10 | system | nDCG@10 | vs hybrid (RRF) |', '|---|---|---|---|---|---|']
            for pop, b in r['by_population'].items():
                out += [f"| {pop} | {b['questions']} | {b['hybrid (RRF)']['ndcg@10']:.3f} | {name} | {x['ndcg@10']:.3f} | {d(x['vs hybrid (RRF)'])} |"
                        for name, x in b.items() if name not in ('questions', 'hybrid (RRF)')]
        for reader, ans in r.get('answers', {}).items():
            out += ['', f'| prompt passages (reader {reader}) | answer F1 | vs dense top 2 |', '|---|---|---|',
                    *[f"| {n} | {f(v['f1'])} | {d(v['vs dense top 2'])} |" for n, v in ans.items()]]
        out.append('')
    return '\n'.join(out)

if __name__ == '__main__':
    p = argparse.ArgumentParser(); p.add_argument('--quick', action='store_true'); p.add_argument('--depth', type=int, default=20)
    p.add_argument('--work', default='runs/bench_ltr')
    p.add_argument('--writer', default=DEFAULT_GENERATOR, help='the generator that writes the docs section\'s extra training questions')
    p.add_argument('--synthetic', type=int, default=300, help='passages it writes a question for')
    p.add_argument('--readers', nargs='+', default=[DEFAULT_GENERATOR], help=f'generators that answer (add {QWEN_GENERATOR} with the qwen extra)')
    main(p.parse_args())
