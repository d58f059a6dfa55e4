"""Fresh facts: after a documentation release changes a number, does the system answer with the new value?

    .venv/bin/python bench/fresh_facts.py --threads 1   # ~5 min; needs the adapters of bench/raft.py (bench/raft-work)

`edit_facts` (12_freshness) changes, for each FAQ training question whose reference quotes a number from its gold
passage, that number in the gold passage. The index is updated with `update_dense_index`. Each system answers the
edited questions; we count answers that state the new value, the old value, or neither. Systems: base model + RAG on
the old index (the control: it should state the old value) and on the updated index; RAFT + RAG and DSF closed book
(the adapters `bench/raft.py` trained on these same training questions with the old answers), one run per seed.
"""
import argparse, json, os, platform, time
from pathlib import Path
import numpy as np
import torch
from ragft_nb.data import atomic_write_bytes, load_bundled, split_qa
from ragft_nb.models import default_dtype, load_embedder, load_generator
from ragft_nb.retrieve import build_dense_index, build_retriever
from ragft_nb.generate import answer_questions
from ragft_nb.freshness import edit_facts, mentions, update_dense_index

HERE = Path(__file__).parent

def count(answers, facts):
    "Shares of answers stating the new value, the old value (and not the new), or neither."
    new = [mentions(a, f['new']) for a, f in zip(answers, facts)]
    old = [mentions(a, f['old']) and not n for a, f, n in zip(answers, facts, new)]
    return {'new': float(np.mean(new)), 'old': float(np.mean(old)), 'neither': float(1 - np.mean(new) - np.mean(old))}

def main(a):
    docs, qa = load_bundled('docs')
    train = split_qa(qa)['train']
    new_docs, facts = edit_facts(docs, train)
    emb, by_old, by_new = load_embedder(), {p['id']: p for p in docs}, {p['id']: p for p in new_docs}
    old_index = build_dense_index(docs, emb)
    new_index, report = update_dense_index(old_index, new_docs, emb)
    old_r = build_retriever(docs, 'dense', emb, dense_index=old_index)
    new_r = build_retriever([by_new[i] for i in new_index.ids], 'dense', emb, dense_index=new_index)
    qs = [{'id': f['id'], 'question': f['question']} for f in facts]
    work = Path(a.raft_work)
    seeds = sorted(int(d.name.split('seed')[1]) for d in work.glob('raft-seed*') if (d/'adapter').is_dir() and (d/'metrics.json').is_file())
    systems = [('base + RAG, old index', None, old_r, by_old, a.k), ('base + RAG, updated index', None, new_r, by_new, a.k)]
    for s in seeds:
        systems += [(f'RAFT + RAG, updated index (seed {s})', work/f'raft-seed{s}'/'adapter', new_r, by_new, a.k),
                    (f'DSF closed book (seed {s})', work/f'dsf-seed{s}'/'adapter', None, by_new, 0)]
    res = {'facts': facts, 'update': report, 'k': a.k, 'budget': a.budget, 'systems': {}}
    for name, adapter, retriever, by_id, k in systems:
        model, tok = load_generator(dtype=default_dtype(), adapter=adapter)
        t = time.time()
        out = answer_questions(qs, retriever, by_id, model, tok, k=k, max_context_tokens=a.budget, batch_size=8)
        ans = [r['answer'] for r in out]
        res['systems'][name] = count(ans, facts) | {'answers': ans, 'seconds': time.time() - t,
                                                      'gold_in_context': float(np.mean([any(p['id'] == f['passage_id'] for p in r['passages']) for r, f in zip(out, facts)])) if k else None}
        print(f"{name}: {res['systems'][name]['new']:.0%} new, {res['systems'][name]['old']:.0%} old", flush=True)
    res['env'] = {'machine': f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores", 'torch': torch.__version__,
                  'dtype': str(default_dtype()).removeprefix('torch.'), 'date': time.strftime('%Y-%m-%d')}
    return res

def markdown(r):
    lines = ['# Fresh facts: answers after a documentation release', '',
             f"Made by `bench/fresh_facts.py` on {r['env']['date']}: {len(r['facts'])} FAQ training questions whose reference quotes a "
             f"number from the gold passage; that number was changed in the passage (e.g. {r['facts'][0]['old']} → {r['facts'][0]['new']}) "
             f"and the index updated ({r['update']['encoded']} passages re-encoded). SmolLM2-135M-Instruct ({r['env']['dtype']}), "
             f"greedy; RAG: dense top {r['k']} in a {r['budget']}-token budget. RAFT and DSF adapters from `bench/raft.py`, "
             f"trained on these questions with the old answers.", '',
             '| system | states the new value | states the old value | neither | gold passage in the prompt |', '|---|---|---|---|---|']
    for n, s in r['systems'].items():
        g = '—' if s['gold_in_context'] is None else f"{s['gold_in_context']:.0%}"
        lines.append(f"| {n} | {s['new']:.0%} | {s['old']:.0%} | {s['neither']:.0%} | {g} |")
    return '\n'.join(lines + [''])

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--raft_work', default=str(HERE/'raft-work'), help="bench/raft.py's work folder (adapters)")
    ap.add_argument('--k', type=int, default=2)
    ap.add_argument('--budget', type=int, default=512)
    ap.add_argument('--threads', type=int)
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    r = main(a)
    md = markdown(r); print(md)
    atomic_write_bytes(HERE/'fresh_facts.json', (json.dumps(r, indent=1, ensure_ascii=False) + '\n').encode())
    atomic_write_bytes(HERE/'fresh_facts.md', md.encode())
