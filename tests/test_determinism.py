"Same inputs and seed, two separate processes: identical retrieval metrics and answers (greedy decoding, fixed data)."
import json, subprocess, sys
from pathlib import Path
from ragft_nb.data import write_jsonl

EXE = Path(sys.executable).parent/'ragft_eval'
CORPUS = [{'id': f'p{i}', 'title': t, 'text': x} for i, (t, x) in enumerate([
    ('Cats', 'Cats purr when content and sleep sixteen hours a day.'),
    ('Metals', 'Iron rusts because oxygen and water form iron oxide.'),
    ('Oceans', 'Tides follow the gravity of the moon pulling on seawater.'),
    ('Baking', 'Yeast ferments sugar, releasing carbon dioxide that makes dough rise.')])]
QA = [{'id': 'q1', 'question': 'Why does iron rust?', 'answer': 'Oxygen and water form iron oxide.', 'gold_ids': ['p1']},
      {'id': 'q2', 'question': 'What makes dough rise?', 'answer': 'Carbon dioxide from yeast.', 'gold_ids': ['p3']}]

def test_two_runs_agree(tmp_path):
    c, q = write_jsonl(CORPUS, tmp_path/'c.jsonl'), write_jsonl(QA, tmp_path/'q.jsonl')
    res = []
    for i in range(2):
        r = subprocess.run([str(EXE), '--corpus', str(c), '--qa', str(q), '--split', 'all', '--method', 'hybrid', '--k', '3',
                            '--generate', '--n_passages', '2', '--max_new_tokens', '16', '--out', str(tmp_path/f'r{i}.json')],
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
        res.append(json.loads((tmp_path/f'r{i}.json').read_text()))
    a, b = res
    assert [x['answer'] for x in a['answers']] == [x['answer'] for x in b['answers']]     # the same greedy answers
    for k in ('recall@1', 'mrr@10', 'ndcg@10', 'f1', 'rouge_l', 'groundedness', 'echo_f1', 'lead_f1'):
        assert a[k] == b[k], (k, a[k], b[k])                                             # tolerance: exact
    assert abs(a['semantic'] - b['semantic']) < 1e-6                                      # float32 embeddings
