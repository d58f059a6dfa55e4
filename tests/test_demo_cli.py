"README command 1's main job, `ragft_demo`, end to end on the small bundled corpus."
import json, subprocess, sys
from pathlib import Path

EXE = str(Path(sys.executable).parent/'ragft_demo')

def test_demo_answers_with_sources(tmp_path):
    out = tmp_path/'demo.json'
    r = subprocess.run([EXE, '--corpus', 'faq', '--n', '1', '--max_new_tokens', '24', '--out', str(out)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(out.read_text())
    assert 0.8 < res['retrieval']['recall@10'] <= 1
    a = res['answers'][0]
    assert a['answer'].strip() and len(a['sources']) == 3
    assert 'Q: ' in r.stdout and '[1] ' in r.stdout

def test_demo_bad_corpus(tmp_path):
    bad = tmp_path/'corpus.jsonl'
    bad.write_text('{"id": "a", "title": "t"}\n')
    r = subprocess.run([EXE, '--corpus', str(bad), '--qa', str(bad)], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    assert "corpus.jsonl:1: missing field 'text'" in r.stderr and 'Traceback' not in r.stderr
