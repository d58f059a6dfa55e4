"`ragft_train_retriever`: a fine-tuned embedder folder that `ragft_eval --embedder` uses; clear errors."
import json, subprocess, sys
from pathlib import Path
from ragft_nb.data import write_jsonl
from test_finetune_cli import CORPUS, QA

BIN = Path(sys.executable).parent
def run(name, *args): return subprocess.run([str(BIN/name)] + [str(a) for a in args], capture_output=True, text=True)

def test_trains_and_eval_uses_it(tmp_path):
    c, q = write_jsonl(CORPUS, tmp_path/'corpus.jsonl'), write_jsonl(QA, tmp_path/'qa.jsonl')
    r = run('ragft_train_retriever', '--corpus', c, '--qa', q, '--out', tmp_path/'emb', '--synthetic', 3, '--headings', 2)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'written for 3 passages' in r.stdout and 'kept by the round trip' in r.stdout   # weak supervision, counted
    assert 'written to' in r.stdout and (tmp_path/'emb'/'model.safetensors').stat().st_size > 0
    assert not (tmp_path/'emb'/'ragft_retriever.json').exists()       # both sides trained: it encodes its own passages
    r = run('ragft_eval', '--corpus', c, '--qa', q, '--split', 'all', '--embedder', tmp_path/'emb', '--out', tmp_path/'e.json')
    assert r.returncode == 0, r.stderr[-3000:]
    assert 0 <= json.loads((tmp_path/'e.json').read_text())['ndcg@10'] <= 1

def test_bad_input(tmp_path):
    r = run('ragft_train_retriever', '--corpus', tmp_path/'nope.jsonl', '--out', tmp_path/'x')
    assert r.returncode != 0 and 'nope.jsonl' in r.stderr and 'Traceback' not in r.stderr and not (tmp_path/'x').exists()
    c, q = write_jsonl(CORPUS, tmp_path/'corpus.jsonl'), write_jsonl(QA, tmp_path/'qa.jsonl')
    r = run('ragft_train_retriever', '--corpus', c, '--qa', q, '--out', tmp_path/'x', '--synthetic', -1)
    assert r.returncode != 0 and 'synthetic must be >= 0' in r.stderr and '-1' in r.stderr and not (tmp_path/'x').exists()
