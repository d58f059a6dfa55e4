"""Defaults are what the benches found best: each test reads a default from the code and the measured winner from a
bench JSON, and fails when they part (a re-run bench that changes its verdict, or a default edited without a bench)."""
import inspect, json
from pathlib import Path
import numpy as np
import pytest
from ragft_nb.raft import run_raft
from ragft_nb.cli import finetune_cli
from ragft_nb.rerank import train_reranker_cli
from ragft_nb.train_retriever import train_retriever_cli

BENCH = Path(__file__).resolve().parent.parent/'bench'

def default(fn, name):
    "The default of parameter `name` of `fn` (a `call_parse` CLI is unwrapped to its function)."
    return inspect.signature(getattr(fn, '__wrapped__', fn)).parameters[name].default

def bench(name): return json.loads((BENCH/name).read_text())

def test_raft_defaults_are_the_measured_setting():
    "Every measured RAFT run (bench/raft.json) used this many distractors and this token budget; the defaults must match."
    cfg = bench('raft.json')['config']
    for fn in (run_raft, finetune_cli):
        assert default(fn, 'distractors') == cfg['distractors'], fn.__name__
        assert default(fn, 'max_context_tokens') == cfg['budget'], fn.__name__

def _mean_ndcg(runs, split='docs'):
    "Mean nDCG@10 over questions, seeds averaged per question first."
    return float(np.mean(np.mean([[s['ndcg@10'] for s in r[split]] for r in runs], axis=0)))

def test_no_heading_pseudo_questions_by_default():
    "bench/weak_supervision.json: heading pseudo-questions lowered held-out nDCG@10; both training CLIs leave them out."
    m = bench('weak_supervision.json')['models']
    hurt = _mean_ndcg(m['+ headings']) < _mean_ndcg(m['questions'])
    assert hurt, "headings no longer hurt: revisit the defaults"
    assert default(train_retriever_cli, 'headings') == 0
    assert default(train_reranker_cli, 'weak') == 0

def test_reranker_kind_is_the_one_that_ranked_better():
    "bench/ltr.json (full run): the CLI's default kind is the reranker with the higher test nDCG@10 over the same first stage."
    rows = bench('ltr.json')['faq']['rows']
    cross = [k for k in rows if 'cross-encoder' in k]
    if not cross: pytest.skip("bench/ltr.json is a --quick run (no cross-encoder row)")
    ltr = next(k for k in rows if k.startswith('dense + LTR'))
    best = 'ltr' if rows[ltr]['ndcg@10'][0] >= rows[cross[0]]['ndcg@10'][0] else 'cross'
    assert default(train_reranker_cli, 'kind') == best, (rows[ltr]['ndcg@10'], rows[cross[0]]['ndcg@10'])
