"The `ragft_train_e2e` command: writes a query-side retriever and an adapter that `ragft_eval` loads as it loads any other; clear errors."
import json, subprocess, sys
from pathlib import Path
from ragft_nb.data import write_jsonl
from test_finetune_cli import CORPUS, QA

BIN = Path(sys.executable).parent
def run(name, *args): return subprocess.run([str(BIN/name)] + [str(a) for a in args], capture_output=True, text=True)

def test_trains_both_and_eval_loads_them(tmp_path):
    c, q = write_jsonl(CORPUS, tmp_path/'corpus.jsonl'), write_jsonl(QA, tmp_path/'qa.jsonl')
    out = tmp_path/'e2e'
    r = run('ragft_train_e2e', '--corpus', c, '--qa', q, '--out', out, '--rounds', 1, '--max_steps', 1, '--retriever_steps', 2,
            '--k', 2, '--n_probe', 2, '--n_texts', 2)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'valid nDCG@10' in r.stdout
    spec = json.loads((out/'retriever'/'ragft_retriever.json').read_text())
    assert spec == {'passage_encoder': 'all-MiniLM-L6-v2'}                        # query side trained, passages by the base model
    assert (out/'retriever'/'model.safetensors').stat().st_size > 0 and (out/'adapter'/'adapter_model.safetensors').stat().st_size > 0
    h = json.loads((out/'history.json').read_text())['history']
    assert [x['round'] for x in h] == [0, 1] and len(h[1]['kl']) == 2 and all(0 <= x['ndcg@10'] <= 1 for x in h)
    m = json.loads((out/'metrics.json').read_text())
    assert set(m['probes']['after']) == {'general_lm_loss', 'general_accuracy'}
    res = tmp_path/'eval.json'
    r = run('ragft_eval', '--corpus', c, '--qa', q, '--split', 'all', '--embedder', out/'retriever', '--adapter', out/'adapter',
            '--generate', '--limit', 2, '--max_new_tokens', 8, '--out', res)
    assert r.returncode == 0, r.stderr[-3000:]
    e = json.loads(res.read_text())
    assert e['n_questions'] == 2 and 0 <= e['ndcg@10'] <= 1 and len(e['answers']) == 2

def test_bad_options_are_refused(tmp_path):
    c, q = write_jsonl(CORPUS, tmp_path/'corpus.jsonl'), write_jsonl(QA, tmp_path/'qa.jsonl')
    r = run('ragft_train_e2e', '--corpus', c, '--qa', q, '--out', tmp_path/'x', '--k', 1)
    assert r.returncode != 0 and 'k >= 2' in r.stderr and not (tmp_path/'x').exists()
    r = run('ragft_train_e2e', '--corpus', tmp_path/'missing.jsonl', '--out', tmp_path/'y')
    assert r.returncode != 0 and 'missing.jsonl' in r.stderr and 'Traceback' not in r.stderr
