"`ragft_train_reranker`: a cross-encoder folder that `ragft_eval --reranker` uses; clear errors, nothing written on bad input."
import json, re, subprocess, sys
from pathlib import Path
from ragft_nb.data import write_jsonl
from test_finetune_cli import CORPUS, QA

BIN = Path(sys.executable).parent
def run(name, *args): return subprocess.run([str(BIN/name)] + [str(a) for a in args], capture_output=True, text=True)

def test_trains_and_eval_uses_it(tmp_path):
    c, q = write_jsonl(CORPUS, tmp_path/'corpus.jsonl'), write_jsonl(QA, tmp_path/'qa.jsonl')
    r = run('ragft_train_reranker', '--corpus', c, '--qa', q, '--out', tmp_path/'rr', '--kind', 'cross', '--weak', 0, '--max_steps', 2, '--max_length', 64)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'written to' in r.stdout and (tmp_path/'rr'/'model.safetensors').stat().st_size > 0
    assert json.loads((tmp_path/'rr'/'ragft_reranker.json').read_text())['loss'] == 'listnet'
    r2 = run('ragft_train_reranker', '--corpus', c, '--qa', q, '--out', tmp_path/'rr2', '--kind', 'cross', '--weak', 0, '--max_steps', 1, '--max_length', 64,
             '--synthetic', 3, '--teacher', 'all-MiniLM-L6-v2')   # generated questions, distilled from the base bi-encoder
    assert r2.returncode == 0, r2.stderr[-3000:]
    assert 'kept by the round trip' in r2.stdout and 'of them generated' in r2.stdout
    assert json.loads((tmp_path/'rr2'/'ragft_reranker.json').read_text())['teacher'] == 'all-MiniLM-L6-v2'
    args = ('--corpus', c, '--qa', q, '--split', 'all', '--out')
    r = run('ragft_eval', *args, tmp_path/'plain.json')
    assert r.returncode == 0, r.stderr[-3000:]
    r = run('ragft_eval', *args, tmp_path/'rr.json', '--reranker', tmp_path/'rr', '--rerank_threshold', 0.5,
            '--generate', '--limit', 2, '--max_new_tokens', 8, '--n_passages', 3)
    assert r.returncode == 0, r.stderr[-3000:]
    plain, rr = json.loads((tmp_path/'plain.json').read_text()), json.loads((tmp_path/'rr.json').read_text())
    assert rr['config']['reranker'] == str(tmp_path/'rr') and rr['config']['rerank_threshold'] == 0.5
    assert rr['recall@10'] == plain['recall@10'] == 1.0      # 4 passages: reranking reorders, never loses one
    assert all(1 <= len(a['passage_ids']) <= 3 for a in rr['answers'])
    r = run('ragft_eval', *args, tmp_path/'fused.json', '--reranker', tmp_path/'rr', '--rerank_fuse')   # RRF with the first stage
    assert r.returncode == 0, r.stderr[-3000:]
    fused = json.loads((tmp_path/'fused.json').read_text())
    assert fused['config']['rerank_fuse'] is True and rr['config']['rerank_fuse'] is False and plain['config']['rerank_fuse'] is None
    assert fused['recall@10'] == 1.0

def test_ltr_trains_in_seconds(tmp_path):
    c, q = write_jsonl(CORPUS, tmp_path/'corpus.jsonl'), write_jsonl(QA, tmp_path/'qa.jsonl')
    r = run('ragft_train_reranker', '--corpus', c, '--qa', q, '--out', tmp_path/'ltr', '--first_stage', 'bm25')   # --kind ltr is the default
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'trained LambdaRank on' in r.stdout and 'written to' in r.stdout
    card = json.loads((tmp_path/'ltr'/'ragft_ltr.json').read_text())
    assert card['kind'] == 'ltr' and card['trees'] >= 1 and set(card['importance']) == set(card['features'])
    assert (tmp_path/'ltr'/'model.txt').read_text().startswith('tree')   # LightGBM's text model: no pickle
    r = run('ragft_train_reranker', '--corpus', c, '--qa', q, '--out', tmp_path/'ltr_syn', '--first_stage', 'bm25', '--synthetic', 3)
    assert r.returncode == 0, r.stderr[-3000:]
    made = int(re.search(r'; (\d+) questions generated', r.stdout).group(1))   # the bundled reader writes them; kept if BM25's top 20 holds the passage
    assert json.loads((tmp_path/'ltr_syn'/'ragft_ltr.json').read_text())['lists'] == card['lists'] + made   # each kept one adds a candidate list
    r = run('ragft_eval', '--corpus', c, '--qa', q, '--split', 'all', '--out', tmp_path/'ltr.json', '--reranker', tmp_path/'ltr',
            '--generate', '--limit', 2, '--max_new_tokens', 8, '--n_passages', 2)   # the same --reranker flag loads either kind
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((tmp_path/'ltr.json').read_text())
    assert res['config']['reranker'] == str(tmp_path/'ltr') and res['recall@10'] == 1.0 and res['n_questions'] == 2
    assert all(1 <= len(a['passage_ids']) <= 2 for a in res['answers'])

def test_bad_input(tmp_path):
    c, q = write_jsonl(CORPUS, tmp_path/'corpus.jsonl'), write_jsonl(QA, tmp_path/'qa.jsonl')
    r = run('ragft_train_reranker', '--corpus', c, '--qa', q, '--out', tmp_path/'x', '--kind', 'cross', '--loss', 'hinge')
    assert r.returncode != 0 and "loss must be one of ['bce', 'listnet']" in r.stderr and 'Traceback' not in r.stderr
    assert not (tmp_path/'x').exists()
    r = run('ragft_train_reranker', '--corpus', c, '--qa', q, '--out', tmp_path/'y', '--kind', 'svm')
    assert r.returncode != 0 and "kind must be 'ltr' or 'cross'" in r.stderr and 'Traceback' not in r.stderr
    assert not (tmp_path/'y').exists()
    r = run('ragft_eval', '--corpus', c, '--qa', q, '--split', 'all', '--reranker', tmp_path)
    assert r.returncode != 0 and 'not a model folder' in r.stderr and 'Traceback' not in r.stderr
