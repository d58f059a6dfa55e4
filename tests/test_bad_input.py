"Bad input through the command-line tools: a one-line error naming the file and line, no traceback, nothing overwritten."
import json, subprocess, sys
from pathlib import Path
import pytest
from ragft_nb.data import write_jsonl

BIN = Path(sys.executable).parent
CORPUS = [{'id': f'p{i}', 'title': f'T{i}', 'text': f'Passage {i} about topic {i}.'} for i in range(6)]
QA = [{'id': f'q{i}', 'question': f'What about topic {i}?', 'answer': f'Topic {i}.', 'gold_ids': [f'p{i}']} for i in range(6)]

def bad_files(tmp):
    "name -> (corpus file, qa file, expected message) for each kind of bad input."
    good_c, good_q = write_jsonl(CORPUS, tmp/'corpus.jsonl'), write_jsonl(QA, tmp/'qa.jsonl')
    (tmp/'empty.jsonl').write_text('\n')
    (tmp/'latin1.jsonl').write_bytes('{"id": "p0", "title": "Caf\xe9", "text": "x"}\n'.encode('latin-1'))
    (tmp/'broken.jsonl').write_text(json.dumps(CORPUS[0]) + '\n{"id": "p1", "title": \n')
    (tmp/'nofield.jsonl').write_text('{"id": "p0", "title": "T"}\n')
    write_jsonl(CORPUS + CORPUS[:1], tmp/'dups.jsonl')
    write_jsonl(QA[:1] + [{**QA[1], 'gold_ids': ['nowhere']}], tmp/'badgold.jsonl')
    return {'empty corpus': (tmp/'empty.jsonl', good_q, 'empty.jsonl: empty file'),
            'not UTF-8': (tmp/'latin1.jsonl', good_q, 'latin1.jsonl: not UTF-8'),
            'not JSON': (tmp/'broken.jsonl', good_q, 'broken.jsonl:2: invalid JSON'),
            'missing field': (tmp/'nofield.jsonl', good_q, "nofield.jsonl:1: missing field 'text'"),
            'duplicate ids': (tmp/'dups.jsonl', good_q, "dups.jsonl:7: duplicate id 'p0'"),
            'unknown gold id': (good_c, tmp/'badgold.jsonl', "badgold.jsonl:2: gold id 'nowhere' is not in the corpus")}

@pytest.mark.parametrize('cli', ['ragft_eval', 'ragft_index'])
def test_bad_files_get_one_line_errors(tmp_path, cli):
    out = tmp_path/'results.json'
    out.write_text('{"previous": true}')
    for name, (corpus, qa, msg) in bad_files(tmp_path).items():
        if cli == 'ragft_index' and name == 'unknown gold id': continue   # the index reads no questions
        args = (['--corpus', corpus, '--qa', qa, '--method', 'bm25', '--out', out] if cli == 'ragft_eval'
                else ['build', '--corpus', corpus, '--index', tmp_path/'idx'])
        r = subprocess.run([str(BIN/cli), *map(str, args)], capture_output=True, text=True, timeout=300)
        assert r.returncode != 0 and msg in r.stderr and 'Traceback' not in r.stderr, (cli, name, r.stderr[-1500:])
        assert len(r.stderr.strip().splitlines()) == 1 or 'warn' in r.stderr.lower(), (cli, name, r.stderr[-1500:])
    assert out.read_text() == '{"previous": true}'             # no failed run overwrote the results
    assert not (tmp_path/'idx').exists()                       # nor wrote a half index

def test_unwritable_output(tmp_path):
    c, q = write_jsonl(CORPUS, tmp_path/'corpus.jsonl'), write_jsonl(QA, tmp_path/'qa.jsonl')
    (tmp_path/'file').write_text('x')
    r = subprocess.run([str(BIN/'ragft_eval'), '--corpus', str(c), '--qa', str(q), '--method', 'bm25', '--split', 'all',
                        '--out', str(tmp_path/'file'/'r.json')], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and 'cannot write here' in r.stderr and 'Traceback' not in r.stderr, r.stderr[-1500:]
