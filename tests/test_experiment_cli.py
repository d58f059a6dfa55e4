"`ragft_experiment --quick`: every strategy end to end at toy size; the files it writes and the ranges of its numbers."
import json, subprocess, sys
from pathlib import Path

BIN = Path(sys.executable).parent
SYSTEMS = ['base, closed book', 'base + RAG', 'DSF, closed book', 'DSF + RAG', 'RAFT + RAG', 'trained retriever + RAG',
           'trained retriever + reranker + RAG', 'RAFT + trained retriever + reranker',
           'RAFT + trained retriever', 'end-to-end']

def test_quick_runs_every_strategy(tmp_path):
    out = tmp_path/'exp'
    r = subprocess.run([str(BIN/'ragft_experiment'), '--quick', '--out', str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    assert {'results.json', 'report.md', 'report.html'} <= {p.name for p in out.iterdir()}
    res = json.loads((out/'results.json').read_text())
    assert set(SYSTEMS) <= set(res['answers']) and {'baseline: echo', 'baseline: lead', 'baseline: passage'} <= set(res['answers'])
    assert set(res['retrieval']) == {'base', 'MNRL fine-tuned', 'MNRL + LTR reranker', 'end-to-end (LSR)'}
    assert set(res['train']) == {'DSF', 'RAFT', 'retriever', 'reranker', 'end-to-end'}
    v, = res['train']['reranker']['variant']   # rerank, fuse or first stage only, chosen on validation questions, and said in the report
    assert v['variant'] in ('rerank', 'fuse', 'first stage only') and v['valid_ndcg@10'][v['variant']] == max(v['valid_ndcg@10'].values())
    assert f"answer with *{v['variant']}*, chosen on validation" in (out/'report.md').read_text()
    g, = res['train']['reranker']['generated']   # its lists include questions the bundled generator wrote for the corpus
    assert g['passages'] == res['config']['synthetic'] and g['kept'] <= g['questions'] <= g['passages']
    assert f"{g['kept']} the bundled generator wrote for {g['passages']} passages" in (out/'report.md').read_text()
    if v['variant'] == 'first stage only':   # then their prompts are those of the systems without the reranker: answered once
        assert res['answers']['trained retriever + reranker + RAG']['reused'] == res['answers']['RAFT + trained retriever + reranker']['reused'] == 1
    for name, a in res['answers'].items():
        assert 0 <= a['f1'][1] <= a['f1'][0] <= a['f1'][2] <= 1, name
        assert 0 <= a['loop'] <= 1 and 0 <= a['reused'] <= 1 and len(a['rows']) == res['data']['test'] == 6
    for name, m in res['retrieval'].items(): assert 0 <= m['ndcg@10'][0] <= 1 and 0 <= m['recall@1'][0] <= m['recall@10'][0] <= 1, name
    for kind in ('DSF', 'RAFT', 'end-to-end'):   # the generator-training strategies report forgetting probes
        p = res['train'][kind]['probes_after'][0]
        assert 0 < p['general_lm_loss'] < 20 and 0 <= p['general_accuracy'] <= 1
    assert res['env']['packages']['torch'] and res['config']['size'] == 'quick' and res['config']['seeds'] == 1
    assert any(c.startswith('RAFT + RAG vs base + RAG') for c in res['conclusions'])
    page = (out/'report.html').read_text()
    assert page.count('<img') == 5 and 'data:image/png;base64,' in page and '<table>' in page and 'end-to-end' in page
    assert 'RAFT + trained retriever' in (out/'report.md').read_text() and 'report.html' in r.stdout

def test_bad_input_is_refused(tmp_path):
    r = subprocess.run([str(BIN/'ragft_experiment'), '--quick', '--out', str(tmp_path/'x'), '--corpus', str(tmp_path/'nope.jsonl')],
                       capture_output=True, text=True)
    assert r.returncode != 0 and 'nope.jsonl' in r.stderr and 'Traceback' not in r.stderr
