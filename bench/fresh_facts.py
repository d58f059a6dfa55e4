"""Fresh facts: after a documentation release changes a number, does the system answer with the new value?

    .venv/bin/python bench/fresh_facts.py --threads 1   # ~5 min; needs the adapters of bench/raft.py (bench/raft-work)

`edit_facts` (12_freshness) changes, for each question (all splits: FAQ train, valid, test and the held-out docs
questions) whose reference quotes a number from its gold passage, that number in the gold passage. The index is
updated with `update_dense_index`. Each system answers the edited questions twice: as asked, and with
"Answer with the exact number the documentation gives." appended (SmolLM2 rarely restates a number unprompted, so the
plain question undercounts both values). We count answers that state the new value, the old value, or neither.
Systems: base model + RAG on the old index (the control: it cannot state a value only the new release has) and on the
updated index; RAFT + RAG and DSF closed book (the adapters `bench/raft.py` trained on the FAQ training questions
with the old answers), one run per seed; and the copy baseline (the top passage verbatim), which states the new value
exactly when retrieval brings the edited passage first. Counts are given on all edited facts and on the training
questions alone (the facts DSF and RAFT saw with the old value).
"""
import argparse, json, os, platform, time
from pathlib import Path
import numpy as np
import torch
from ragft_nb.data import atomic_write_bytes, load_bundled, split_qa
from ragft_nb.evaluate import bootstrap_ci
from ragft_nb.models import default_dtype, load_embedder, load_generator
from ragft_nb.retrieve import build_dense_index, build_retriever
from ragft_nb.generate import answer_questions
from ragft_nb.freshness import edit_facts, mentions, update_dense_index

HERE = Path(__file__).parent

ASK_NUMBER = ' Answer with the exact number the documentation gives.'

def count(answers, facts):
    "Shares of answers stating the new value (with a 95% interval over facts), the old value (and not the new), or neither."
    new = [float(mentions(a, f['new'])) for a, f in zip(answers, facts)]
    old = [float(mentions(a, f['old']) and not n) for a, f, n in zip(answers, facts, new)]
    return {'new': float(np.mean(new)), 'new_ci': bootstrap_ci(new), 'old': float(np.mean(old)), 'neither': float(1 - np.mean(new) - np.mean(old))}

def main(a):
    docs, qa = load_bundled('docs')
    splits = split_qa(qa)
    split_of = {q['id']: name for name, qs in splits.items() for q in qs}
    new_docs, facts = edit_facts(docs, [q for qs in splits.values() for q in qs])
    for f in facts: f['split'] = split_of[f['id']]
    emb, by_old, by_new = load_embedder(), {p['id']: p for p in docs}, {p['id']: p for p in new_docs}
    old_index = build_dense_index(docs, emb)
    new_index, report = update_dense_index(old_index, new_docs, emb)
    old_r = build_retriever(docs, 'dense', emb, dense_index=old_index)
    new_r = build_retriever([by_new[i] for i in new_index.ids], 'dense', emb, dense_index=new_index)
    variants = {'as asked': [{'id': f['id'], 'question': f['question']} for f in facts],
                'number asked for': [{'id': f['id'], 'question': f['question'] + ASK_NUMBER} for f in facts]}
    work = Path(a.raft_work)
    seeds = sorted(int(d.name.split('seed')[1]) for d in work.glob('raft-seed*') if (d/'adapter').is_dir() and (d/'metrics.json').is_file())
    systems = [('base + RAG, old index', None, old_r, by_old, a.k), ('base + RAG, updated index', None, new_r, by_new, a.k)]
    for s in seeds:
        systems += [(f'RAFT + RAG, updated index (seed {s})', work/f'raft-seed{s}'/'adapter', new_r, by_new, a.k),
                    (f'DSF closed book (seed {s})', work/f'dsf-seed{s}'/'adapter', None, by_new, 0)]
    res = {'facts': facts, 'update': report, 'k': a.k, 'budget': a.budget, 'systems': {}}
    top = new_r([f['question'] for f in facts], 1)
    copy = [by_new[h[0][0]]['text'] for h in top]   # the copy baseline: the top passage of the updated index, verbatim
    res['systems']['copy the top passage, updated index'] = {v: count(copy, facts) | {'answers': copy} for v in variants}
    train_idx = [i for i, f in enumerate(facts) if f['split'] == 'train']
    for name, adapter, retriever, by_id, k in systems:
        model, tok = load_generator(dtype=default_dtype(), adapter=adapter)
        for v, qs in variants.items():
            t = time.time()
            out = answer_questions(qs, retriever, by_id, model, tok, k=k, max_context_tokens=a.budget, batch_size=8)
            ans = [r['answer'] for r in out]
            res['systems'].setdefault(name, {})[v] = count(ans, facts) | {
                'train': count([ans[i] for i in train_idx], [facts[i] for i in train_idx]), 'answers': ans, 'seconds': time.time() - t,
                'gold_in_context': float(np.mean([any(p['id'] == f['passage_id'] for p in r['passages']) for r, f in zip(out, facts)])) if k else None}
            x = res['systems'][name][v]
            print(f"{name}, {v}: {x['new']:.0%} new, {x['old']:.0%} old", flush=True)
    res['env'] = {'machine': f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores", 'torch': torch.__version__,
                  'dtype': str(default_dtype()).removeprefix('torch.'), 'date': time.strftime('%Y-%m-%d')}
    return res

def markdown(r):
    n_train = sum(f['split'] == 'train' for f in r['facts'])
    lines = ['# Fresh facts: answers after a documentation release', '',
             f"Made by `bench/fresh_facts.py` on {r['env']['date']}: {len(r['facts'])} questions (all splits; {n_train} of them FAQ training "
             f"questions) whose reference quotes a number from the gold passage; that number was changed in the passage (e.g. "
             f"{r['facts'][0]['old']} → {r['facts'][0]['new']}) and the index updated ({r['update']['encoded']} passages re-encoded). "
             f"SmolLM2-135M-Instruct ({r['env']['dtype']}), greedy; RAG: dense top {r['k']} in a {r['budget']}-token budget. RAFT and "
             f"DSF adapters from `bench/raft.py`, trained on the FAQ training questions with the old answers. Each question asked as "
             f"written and with \"{ASK_NUMBER.strip()}\" appended. 95% bootstrap intervals over facts.", '',
             '| system | question | states the new value | states the old value | neither | new value, training questions only | gold passage in the prompt |',
             '|---|---|---|---|---|---|---|']
    for n, vs in r['systems'].items():
        for v, s in vs.items():
            g = '—' if s.get('gold_in_context') is None else f"{s['gold_in_context']:.0%}"
            t = f"{s['train']['new']:.0%} ({s['train']['new'] * n_train:.0f}/{n_train})" if 'train' in s else '—'
            lines.append(f"| {n} | {v} | {s['new']:.0%} [{s['new_ci'][1]:.0%}, {s['new_ci'][2]:.0%}] | {s['old']:.0%} | {s['neither']:.0%} | {t} | {g} |")
    sy, v = r['systems'], 'number asked for'
    rag, old = sy['base + RAG, updated index'][v], sy['base + RAG, old index'][v]
    dsf = [s[v]['train']['new'] for n, s in sy.items() if n.startswith('DSF')]
    dsf_old = [s[v]['train']['old'] for n, s in sy.items() if n.startswith('DSF')]
    lines += ['', f"Computed reading (number asked for): base + RAG states the new value in {rag['new']:.0%} of the facts after the update "
              f"and {old['new']:.0%} before it (the control); it states the old value in {rag['old']:.0%} after and {old['old']:.0%} before. "
              + (f"DSF closed book states the new value in {np.mean(dsf):.0%} and the old one in {np.mean(dsf_old):.0%} of the facts it "
                 f"was trained on (mean over {len(dsf)} seeds): only retrieval can bring a changed fact into the answer." if dsf else ''), '']
    return '\n'.join(lines)

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
