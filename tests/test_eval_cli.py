"The `ragft_eval` command: JSON results in range, a known answer, one-line errors for bad input."
import json, subprocess, sys
from pathlib import Path
import pytest
from ragft_nb.data import write_jsonl
from ragft_nb.evaluate import groundedness, token_f1

EXE = Path(sys.executable).parent/'ragft_eval'
RETRIEVAL = ['recall@1', 'recall@5', 'recall@10', 'mrr@10', 'ndcg@10']

# Each question shares its content words with its gold passage only, so BM25 must rank the gold passage first.
CORPUS = [
    {'id': 'cats', 'title': 'Cats', 'text': 'Cats purr when content and sleep sixteen hours daily.'},
    {'id': 'rust', 'title': 'Metals', 'text': 'Iron rusts because oxygen and water form iron oxide.'},
    {'id': 'tide', 'title': 'Oceans', 'text': 'Tides follow the gravity of the moon pulling on seawater.'},
    {'id': 'bread', 'title': 'Baking', 'text': 'Yeast ferments sugar, releasing carbon dioxide that makes dough rise.'},
    {'id': 'piano', 'title': 'Music', 'text': 'A piano has eighty-eight keys tuned in equal temperament.'},
    {'id': 'volcano', 'title': 'Geology', 'text': 'Volcanoes erupt when magma pressure cracks the crust.'},
]
QA = [
    {'id': 'q1', 'question': 'Why do cats purr?', 'answer': 'Cats purr when content.', 'gold_ids': ['cats']},
    {'id': 'q2', 'question': 'Why does iron rust?', 'answer': 'Oxygen and water form iron oxide.', 'gold_ids': ['rust']},
    {'id': 'q3', 'question': 'What makes dough rise?', 'answer': 'Yeast releases carbon dioxide.', 'gold_ids': ['bread']},
    {'id': 'q4', 'question': 'How many keys has a piano?', 'answer': 'Eighty-eight keys.', 'gold_ids': ['piano']},
]

@pytest.fixture
def data(tmp_path):
    return write_jsonl(CORPUS, tmp_path/'corpus.jsonl'), write_jsonl(QA, tmp_path/'qa.jsonl')

def run_eval(*args):
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, timeout=600)

def check_results(path, keys):
    res = json.loads(Path(path).read_text())
    for k in keys: assert 0 <= res[k] <= 1, (k, res[k])
    return res

def test_bm25_known_answer(data, tmp_path):
    corpus, qa = data
    r = run_eval('--corpus', corpus, '--qa', qa, '--method', 'bm25', '--split', 'all', '--out', tmp_path/'r.json')
    assert r.returncode == 0, r.stderr
    res = check_results(tmp_path/'r.json', RETRIEVAL)
    assert res['recall@1'] == res['mrr@10'] == res['ndcg@10'] == 1.0   # the query words occur only in the gold passage
    assert res['n_questions'] == len(QA)
    assert 'recall@1' in r.stdout and '1.000' in r.stdout               # the printed table

@pytest.mark.parametrize('method', ['dense', 'hybrid'])
def test_dense_and_hybrid(data, tmp_path, method):
    corpus, qa = data
    r = run_eval('--corpus', corpus, '--qa', qa, '--method', method, '--split', 'all', '--k', 3, '--out', tmp_path/'r.json')
    assert r.returncode == 0, r.stderr
    res = check_results(tmp_path/'r.json', RETRIEVAL + ['recall@3'])
    # distinct topics: each question's gold passage is its nearest neighbour, so every metric is exactly 1
    # (a retriever that ranked by anything else, or metrics that mis-counted ranks, would fail this)
    assert res['recall@1'] == res['mrr@10'] == res['ndcg@10'] == 1.0, res

def test_generate(data, tmp_path):
    corpus, qa = data
    r = run_eval('--corpus', corpus, '--qa', qa, '--method', 'bm25', '--split', 'all', '--limit', 2, '--generate',
                 '--n_passages', 1, '--max_new_tokens', 16, '--out', tmp_path/'r.json')
    assert r.returncode == 0, r.stderr
    res = check_results(tmp_path/'r.json', RETRIEVAL + ['f1', 'rouge_l', 'groundedness', 'semantic'])
    assert res['n_questions'] == 2 and res['seconds_per_answer'] > 0
    # the scores are recomputed from the answers the command wrote, against the references of the QA file
    refs = {q['id']: q for q in QA}
    by_id = {p['id']: p for p in CORPUS}
    written = res['answers']
    assert [a['id'] for a in written] == ['q1', 'q2'] and all(a['passage_ids'] == [refs[a['id']]['gold_ids'][0]] for a in written)
    assert res['f1'] == pytest.approx(sum(token_f1(a['answer'], refs[a['id']]['answer']) for a in written) / 2)
    assert res['groundedness'] == pytest.approx(sum(groundedness(a['answer'], [by_id[i] for i in a['passage_ids']], refs[a['id']]['question'])
                                                    for a in written) / 2)
    # the no-model baselines are there too; echo is computed by hand
    assert res['echo_f1'] == pytest.approx(sum(token_f1(q['question'], q['answer']) for q in QA[:2]) / 2)

def test_bad_corpus_file(data, tmp_path):
    _, qa = data
    bad = tmp_path/'broken_corpus.jsonl'
    bad.write_text(json.dumps(CORPUS[0]) + '\n{not json\n')
    r = run_eval('--corpus', bad, '--qa', qa, '--method', 'bm25', '--split', 'all')
    assert r.returncode != 0
    assert 'broken_corpus.jsonl:2' in r.stderr and 'Traceback' not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1

def test_bad_qa_and_options(data, tmp_path):
    corpus, _ = data
    bad = write_jsonl([{**QA[0], 'gold_ids': ['nowhere']}], tmp_path/'bad_qa.jsonl')
    r = run_eval('--corpus', corpus, '--qa', bad, '--method', 'bm25', '--split', 'all')
    assert r.returncode != 0 and 'bad_qa.jsonl:1' in r.stderr and "'nowhere'" in r.stderr
    r = run_eval('--corpus', corpus, '--qa', tmp_path/'missing.jsonl', '--method', 'bm25')
    assert r.returncode != 0 and 'missing.jsonl' in r.stderr and 'Traceback' not in r.stderr
    r = run_eval('--corpus', corpus, '--qa', data[1], '--method', 'tfidf', '--split', 'all')
    assert r.returncode != 0 and 'tfidf' in r.stderr and 'Traceback' not in r.stderr
