"""Closed book vs RAG vs no-model baselines on held-out questions, with 95% bootstrap intervals.

    .venv/bin/python bench/rag.py                       # docs + faq corpora, k = 1, 3 (~20 min on 2 cores)
    .venv/bin/python bench/rag.py --limit 8 --out /tmp/x  # a quick check

Questions: the FAQ questions of the valid and test splits (nothing here is tuned on valid) plus, on the docs corpus,
the held-out questions written over the rest of the documentation; every answer is scored against its curated
reference. Dense retrieval (all-MiniLM-L6-v2, exact FAISS search) feeds the top-k passages to SmolLM2-135M-Instruct
through `ragft_nb.generate.answer_questions`; closed book gives it no passages. Baselines use no generator: echo the
question; the lead sentence(s) of the top-1 retrieved passage; the whole top-1 passage. Every mean comes with a 95%
bootstrap interval over questions, and the conclusions under the table are computed by paired bootstrap.
Writes `rag.md` and `rag.json` (every answer and per-question score) into `--out` (default: this folder).
"""
import argparse, json, os, platform, time
from pathlib import Path
import numpy as np
import torch
from ragft_nb.data import atomic_write_bytes, load_bundled
from ragft_nb.models import default_dtype, load_embedder, load_generator
from ragft_nb.retrieve import build_retriever
from ragft_nb.generate import answer_questions
from ragft_nb.evaluate import (BASELINES, answer_rows, baseline_answers, bootstrap_ci, groundedness, paired_bootstrap,
                               select_split, verdict)

HERE = Path(__file__).parent
CI_COLS = {'f1': 'F1', 'rouge_l': 'ROUGE-L', 'semantic': 'semantic sim.', 'gold_support': 'gold support'}
COLS = {'gold_in_context': 'gold in context', 'groundedness': 'grounded in context', 's_per_question': 's / question'}

def score(questions, answers, passages_list, by_id, emb, hits=None):
    "Per-question scores: answer metrics, support by the gold passages, and whether a gold passage reached the prompt."
    qtexts, refs = [q['question'] for q in questions], [q['answer'] for q in questions]
    rows = answer_rows(answers, refs, passages_list, qtexts, emb)
    for r, a, q, ps in zip(rows, answers, questions, passages_list or [None] * len(rows)):
        r['gold_support'] = groundedness(a, [by_id[g] for g in q['gold_ids']], q['question'])
        if ps is not None: r['gold_in_context'] = float(bool({p['id'] for p in ps} & set(q['gold_ids'])))
    return rows

def summary(rows, secs=None):
    "Mean and interval of each CI column; plain means of the others."
    s = {c: bootstrap_ci([r[c] for r in rows]) for c in CI_COLS}
    for c in ('gold_in_context', 'groundedness'):
        if c in rows[0]: s[c] = float(np.mean([r[c] for r in rows]))
    s['s_per_question'] = secs
    return s

def fmt_ci(v): return f"{v[0]:.3f} [{v[1]:.2f}, {v[2]:.2f}]"

def table(rows):
    "The benchmark rows as a markdown table."
    head = '| setting | corpus | k | ' + ' | '.join([*CI_COLS.values(), *COLS.values()]) + ' |'
    lines = [head, '|' + '---|' * (3 + len(CI_COLS) + len(COLS))]
    for r in rows:
        s = r['summary']
        vals = [fmt_ci(s[c]) for c in CI_COLS] + [('—' if s.get(c) is None else f"{s[c]:.2f}" if c == 's_per_question'
                                                    else f"{s[c]:.3f}") for c in COLS]
        lines.append(f"| {r['setting']} | {r['corpus']} | {r['k'] or '—'} | " + ' | '.join(vals) + ' |')
    return '\n'.join(lines)

def compare(rows, a, b, metric='f1'):
    "Paired bootstrap of `metric` between two named rows: a sentence with the difference and its verdict."
    ra, rb = rows[a]['scores'], rows[b]['scores']
    d = paired_bootstrap([r[metric] for r in ra], [r[metric] for r in rb])
    return f"**{b}** vs **{a}** ({metric}): {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] → {verdict(d)}", d

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--corpora', nargs='+', default=['docs', 'faq'], choices=['faq', 'docs'])
    ap.add_argument('--ks', nargs='+', type=int, default=[1, 3])
    ap.add_argument('--dtype', default='auto', choices=['auto', 'bf16', 'fp32'])
    ap.add_argument('--max_new_tokens', type=int, default=64)
    ap.add_argument('--threads', type=int, default=None, help='torch CPU threads (1 on a machine shared with other jobs)')
    ap.add_argument('--limit', type=int, default=None, help='use only the first N questions of each source')
    ap.add_argument('--out', default=str(HERE), help='folder for rag.md and rag.json')
    a = ap.parse_args()
    dtype = {'auto': default_dtype(), 'bf16': torch.bfloat16, 'fp32': torch.float32}[a.dtype]
    if a.threads: torch.set_num_threads(a.threads)
    model, tok, emb = *load_generator(dtype=dtype), load_embedder()
    docs, docs_qa = load_bundled('docs')
    faq_qs = select_split([q for q in docs_qa if 'split' not in q], 'valid+test')[:a.limit]
    held_out = [q for q in docs_qa if q.get('split') == 'test'][:a.limit]
    rows, by_name = [], {}
    def add(setting, corpus, k, questions, answers, passages_list, by_id, secs, hits=None):
        sc = score(questions, answers, passages_list, by_id, emb)
        row = {'setting': setting, 'corpus': corpus, 'k': k, 'n_questions': len(questions), 'summary': summary(sc, secs),
               'scores': sc, 'answers': [{'id': q['id'], 'answer': x} for q, x in zip(questions, answers)]}
        rows.append(row); by_name[f"{setting} ({corpus}{', k=%d' % k if k else ''})"] = row
        print(f"{setting:22s} {corpus:14s} k={k}  " + '  '.join(f"{CI_COLS[c]} {fmt_ci(row['summary'][c])}" for c in CI_COLS), flush=True)
    for name in a.corpora:
        corpus = docs if name == 'docs' else load_bundled('faq')[0]
        qs = faq_qs + (held_out if name == 'docs' else [])
        label, by_id = f"{name} ({len(corpus):,})", {p['id']: p for p in corpus}
        t = time.time(); out = answer_questions(qs, None, by_id, model, tok, k=0, max_new_tokens=a.max_new_tokens)
        add('closed book', label, 0, qs, [r['answer'] for r in out], None, by_id, (time.time() - t) / len(qs))
        retriever = build_retriever(corpus, 'dense', embedder=emb)
        hits = retriever([q['question'] for q in qs], k=max(a.ks))
        for b in BASELINES:
            add(f'baseline: {b}', label, 0 if b == 'echo' else 1, qs, baseline_answers(b, qs, hits, by_id),
                None if b == 'echo' else [[by_id[h[0][0]]] for h in hits], by_id, None)
        for k in a.ks:
            t = time.time(); out = answer_questions(qs, retriever, by_id, model, tok, k=k, max_new_tokens=a.max_new_tokens)
            add('RAG (dense)', label, k, qs, [r['answer'] for r in out], [r['passages'] for r in out], by_id, (time.time() - t) / len(qs))
    setup = {'questions': f"{len(faq_qs)} FAQ valid+test questions; on docs also {len(held_out)} held-out docs questions",
             'references': 'curated 1–3 sentence answers (ragft_nb/bundled/DATA_CARD.md)',
             'generator': f"SmolLM2-135M-Instruct, {str(dtype).removeprefix('torch.')}, greedy, max_new_tokens={a.max_new_tokens}",
             'retriever': 'dense: all-MiniLM-L6-v2 + FAISS IndexFlatIP (exact)',
             'machine': f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
                        f"(threads: {torch.get_num_threads()})", 'date': time.strftime('%Y-%m-%d')}
    conclusions = []
    for name in a.corpora:
        lab = next(r['corpus'] for r in rows if r['corpus'].startswith(name))
        best_k = max(a.ks, key=lambda k: by_name[f"RAG (dense) ({lab}, k={k})"]['summary']['f1'][0])
        rag = f"RAG (dense) ({lab}, k={best_k})"
        for other in (f"closed book ({lab})", f"baseline: lead ({lab}, k=1)", f"baseline: echo ({lab})"):
            conclusions.append(compare(by_name, other, rag)[0])
        conclusions.append(compare(by_name, f"baseline: lead ({lab}, k=1)", rag, 'semantic')[0])
        if len(a.ks) > 1:
            conclusions.append(compare(by_name, f"RAG (dense) ({lab}, k={min(a.ks)})", f"RAG (dense) ({lab}, k={max(a.ks)})")[0])
    md = '\n'.join(['# Closed book vs RAG vs no-model baselines', '',
                    'Produced by `bench/rag.py`. ' + '; '.join(f"{k}: {v}" for k, v in setup.items()) + '.', '',
                    table(rows), '',
                    'Means with 95% bootstrap intervals over questions (2,000 resamples).',
                    '- **F1 / ROUGE-L**: against the curated reference (SQuAD normalisation; ROUGE-L F with stemming). '
                    '**semantic sim.**: cosine of all-MiniLM-L6-v2 embeddings of answer and reference.',
                    '- **gold support**: share of the answer\'s content words *not in the question* found in the gold '
                    'passage(s) (echoing the question scores 0); **grounded in context**: the same against the passages '
                    'in the prompt; **gold in context**: a gold passage reached the prompt.',
                    '- Baselines use no generator: **echo** the question, **lead** = first sentence(s) of the top-1 '
                    'retrieved passage, **passage** = the whole top-1 passage.', '',
                    '## Computed conclusions (paired bootstrap on the same questions)', '',
                    *[f"- {c}" for c in conclusions], ''])
    out = Path(a.out)
    atomic_write_bytes(out/'rag.md', md.encode())
    atomic_write_bytes(out/'rag.json', (json.dumps({'setup': setup, 'rows': rows}, indent=1, ensure_ascii=False) + '\n').encode())
    print('\n' + md)

if __name__ == '__main__': main()
