"""Closed book vs RAG on the Python FAQ test questions: answer quality and generation time.

    .venv/bin/python bench/rag.py                    # faq and docs corpora, k = 1, 3, 5, float32 (~20-40 min on 2 cores)
    .venv/bin/python bench/rag.py --corpora faq --limit 5 --out /tmp/x   # a quick check
    .venv/bin/python bench/rag.py --threads 1        # on a machine shared with other jobs

Dense retrieval (all-MiniLM-L6-v2, exact FAISS search) feeds the top-k passages to SmolLM2-135M-Instruct through
`ragft_nb.generate.answer_questions`; closed book gives it no passages. Writes `rag.md` (the table) and `rag.json`
(the table's numbers and every answer) into `--out` (default: this folder).
"""
import argparse, json, os, platform, time
from pathlib import Path
import numpy as np
import torch
from ragft_nb.data import atomic_write_bytes, load_bundled, split_qa
from ragft_nb.models import load_embedder, load_generator
from ragft_nb.retrieve import build_retriever
from ragft_nb.generate import answer_questions
from ragft_nb.evaluate import answer_metrics

HERE = Path(__file__).parent
COLS = {'gold_in_context': 'gold in context', 'em': 'EM', 'f1': 'F1', 'rouge_l': 'ROUGE-L',
        'groundedness': 'grounded', 'gold_support': 'gold support', 's_per_question': 's / question'}

def score_run(questions, out, by_id, secs):
    "Answer metrics of one run, plus support by the gold passage and whether it reached the prompt."
    preds, refs = [r['answer'] for r in out], [q['answer'] for q in questions]
    m = answer_metrics(preds, refs, [r['passages'] for r in out])
    m['gold_support'] = answer_metrics(preds, refs, [[by_id[g] for g in q['gold_ids']] for q in questions])['groundedness']
    m['gold_in_context'] = float(np.mean([bool({p['id'] for p in r['passages']} & set(q['gold_ids']))
                                          for q, r in zip(questions, out)]))
    m['s_per_question'] = secs
    return m

def run(name, questions, retriever, by_id, model, tok, k, max_new_tokens):
    "Answer `questions` with `k` retrieved passages (closed book if `retriever` is None) and score the answers."
    t = time.time()
    out = answer_questions(questions, retriever, by_id, model, tok, k=k, max_new_tokens=max_new_tokens)
    m = score_run(questions, out, by_id, (time.time() - t) / len(questions))
    print(f"{name:10s} k={k}  " + '  '.join(f"{COLS[c]} {m[c]:.3f}" for c in COLS), flush=True)
    return m, [{'id': q['id'], 'answer': r['answer'], 'passages': [p['id'] for p in r['passages']]}
               for q, r in zip(questions, out)]

def table(rows):
    "The benchmark rows as a markdown table."
    head = '| setting | corpus | k | ' + ' | '.join(COLS.values()) + ' |'
    lines = [head, '|' + '---|' * (3 + len(COLS))]
    for r in rows:
        vals = [('—' if r['k'] == 0 and c in ('groundedness', 'gold_in_context') else
                 f"{r[c]:.2f}" if c == 's_per_question' else f"{r[c]:.3f}") for c in COLS]
        lines.append(f"| {r['setting']} | {r['corpus']} | {r['k'] or '—'} | " + ' | '.join(vals) + ' |')
    return '\n'.join(lines)

def report_md(rows, setup):
    "The markdown report: set-up, table, definitions."
    return '\n'.join([
        '# Closed book vs RAG on the Python FAQ', '',
        'Produced by `bench/rag.py`. ' + '; '.join(f"{k}: {v}" for k, v in setup.items()) + '.', '',
        table(rows), '',
        '- **gold in context**: share of questions whose gold passage is among the passages that fit into the prompt '
        '(`answer_questions` keeps at most 1,024 passage tokens, so k=5 may drop the lowest-ranked passages).',
        '- **EM / F1 / ROUGE-L**: against the one- or two-sentence reference answer (SQuAD normalisation; ROUGE-L F with '
        'stemming).',
        '- **grounded**: share of the answer\'s content words found in the passages it was given (0 by definition '
        'closed book, shown —); **gold support**: the same against the gold passage, comparable across all rows.',
        '- **s / question**: wall time of retrieval + prompt + generation per question (batches of 4). The machine is '
        'shared with other jobs, so timings vary with their load (up to 2x between rows of one run): compare them '
        'only roughly.', ''])

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--corpora', nargs='+', default=['faq', 'docs'], choices=['faq', 'docs'])
    ap.add_argument('--ks', nargs='+', type=int, default=[1, 3, 5])
    ap.add_argument('--bf16', action='store_true', help='generate in bfloat16 (faster only on CPUs with AVX512-BF16/AMX)')
    ap.add_argument('--max_new_tokens', type=int, default=64)
    ap.add_argument('--threads', type=int, default=None,
                    help='torch CPU threads (default: torch\'s choice); 1 on a machine shared with other jobs, where '
                         'oversubscribed threads make generation 3-10x slower')
    ap.add_argument('--limit', type=int, default=None, help='use only the first N test questions')
    ap.add_argument('--out', default=str(HERE), help='folder for rag.md and rag.json')
    a = ap.parse_args()
    dtype = torch.bfloat16 if a.bf16 else torch.float32
    if a.threads: torch.set_num_threads(a.threads)
    faq, qa = load_bundled('faq')
    questions = split_qa(qa)['test'][:a.limit]
    faq_by_id = {p['id']: p for p in faq}
    model, tok = load_generator(dtype=dtype)
    emb = load_embedder()
    rows, answers = [], {}
    m, answers['closed book'] = run('closed', questions, None, faq_by_id, model, tok, 0, a.max_new_tokens)
    rows.append({'setting': 'closed book', 'corpus': '—', 'k': 0, **m})
    for name in a.corpora:
        corpus = faq if name == 'faq' else load_bundled(name)[0]
        t = time.time(); retriever = build_retriever(corpus, 'dense', embedder=emb)
        print(f"{name}: dense index over {len(corpus)} passages in {time.time()-t:.0f} s", flush=True)
        by_id = {p['id']: p for p in corpus}
        for k in a.ks:
            m, answers[f'{name} k={k}'] = run(name, questions, retriever, by_id, model, tok, k, a.max_new_tokens)
            rows.append({'setting': 'RAG (dense)', 'corpus': f"{name} ({len(corpus):,})", 'k': k, **m})
    setup = {'questions': f"{len(questions)} Python FAQ test questions (split_qa(qa)['test'])",
             'generator': f"SmolLM2-135M-Instruct, {str(dtype).removeprefix('torch.')}, greedy, max_new_tokens={a.max_new_tokens}",
             'retriever': 'dense: all-MiniLM-L6-v2 + FAISS IndexFlatIP (exact)',
             'machine': f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
                        f"(torch threads: {torch.get_num_threads()})",
             'date': time.strftime('%Y-%m-%d')}
    md = report_md(rows, setup)
    out = Path(a.out)
    atomic_write_bytes(out/'rag.md', md.encode())
    atomic_write_bytes(out/'rag.json', (json.dumps({'setup': setup, 'rows': rows, 'answers': answers}, indent=1,
                                                   ensure_ascii=False) + '\n').encode())
    print('\n' + table(rows))

if __name__ == '__main__': main()
