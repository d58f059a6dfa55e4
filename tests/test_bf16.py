"""The bfloat16 path, forced on every CPU (`RAGFT_DTYPE=bf16`), so that a machine whose `default_dtype()` is float32
(AVX2-only) also exercises what an AVX512-BF16/AMX machine runs: generation, LoRA training, adapter save/load/merge."""
import json, os
import pytest
import torch
from ragft_nb.data import write_jsonl
from ragft_nb.models import default_dtype, load_generator
from ragft_nb.generate import generate
from ragft_nb.finetune import FinetuneConfig, load_adapter, run_finetune

PAIRS = [
    ('Why do cats purr?', 'Cats purr when they are content.'), ('Why does iron rust?', 'Oxygen and water form iron oxide.'),
    ('How long do cats sleep?', 'About sixteen hours a day.'), ('What is rust?', 'Iron oxide.'),
    ('When do cats purr?', 'When they are content.'), ('What forms iron oxide?', 'Oxygen and water with iron.'),
    ('What do cats do when content?', 'They purr.'), ('What do oxygen and water do to iron?', 'They rust it.')]
CORPUS = [{'id': f'p{i}', 'title': 'Facts', 'text': a} for i, (_, a) in enumerate(PAIRS)]   # one passage per question:
QA = [{'id': f'q{i}', 'question': q, 'answer': a, 'gold_ids': [f'p{i}']} for i, (q, a) in enumerate(PAIRS)]  # the split groups by passage

@pytest.fixture
def bf16(monkeypatch):
    monkeypatch.setenv('RAGFT_DTYPE', 'bf16'); torch.set_num_threads(1)

def test_generate_in_bf16(bf16):
    model, tok = load_generator()
    assert default_dtype() == torch.bfloat16 and model.dtype == torch.bfloat16
    a = generate(model, tok, [[{'role': 'user', 'content': 'What is the capital of France?'}]], max_new_tokens=12)[0]
    assert 'Paris' in a, a

def _logits(model, ids):
    with torch.no_grad(): return model(ids).logits.float()

def test_lora_in_bf16_merge_within_derived_tolerance(bf16, tmp_path):
    c, q = write_jsonl(CORPUS, tmp_path/'c.jsonl'), write_jsonl(QA, tmp_path/'q.jsonl')
    cfg = FinetuneConfig(max_steps=3, batch_size=2, eval_steps=3, patience=0, max_len=64, lr=1e-2, warmup_steps=0)
    m = run_finetune(c, q, tmp_path/'run', cfg, n_probe=2, n_texts=2)
    assert m['config']['bf16'] is True and m['steps'] == 3
    adapter = tmp_path/'run'/'adapter'
    ids = torch.tensor([[1, 504, 3458, 314, 253, 3575, 282, 4649, 47]])
    model, _ = load_adapter(adapter)                                              # bf16 base, float32 adapters
    assert model.base_model.model.model.layers[0].self_attn.q_proj.base_layer.weight.dtype == torch.bfloat16
    assert {p.dtype for n, p in model.named_parameters() if 'lora_' in n} == {torch.float32}
    merged, _ = load_adapter(adapter, merge=True)
    # tolerance derived from the data: merging rounds W + BA to bf16 once, as casting float32 weights to bf16 does,
    # so the merged model may differ from the adapter model by about the base model's own bf16 rounding noise; compared
    # on the mean |logit difference| (as in 07): the largest single one is an outlier that depends on the CPU's bf16 kernels
    noise = (_logits(load_generator(dtype=torch.bfloat16)[0], ids) - _logits(load_generator(dtype=torch.float32)[0], ids)).abs().mean().item()
    diff = (_logits(merged, ids) - _logits(model, ids)).abs().mean().item()
    assert 0 < noise and diff <= 2 * noise, (diff, noise)
    # in float32 the same adapter merges exactly (up to float32 rounding)
    f32, _ = load_adapter(adapter, dtype=torch.float32)
    m32, _ = load_adapter(adapter, dtype=torch.float32, merge=True)
    assert (_logits(f32, ids) - _logits(m32, ids)).abs().max().item() < 1e-3
