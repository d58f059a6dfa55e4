"""Nothing from disk is unpickled, and no model code from disk is run.

Our package: no pickle, no `torch.load`, no `np.load(allow_pickle=True)`, no `trust_remote_code=True`. The libraries
we hand files to: every `torch.load` on the paths we use (Trainer resume: optimizer, scheduler, RNG state and
weights; peft adapters without safetensors) passes `weights_only=True`, which refuses arbitrary objects; a library
upgrade that drops it fails here. `training_args.bin` (a pickle Trainer writes into each checkpoint) is never read.
"""
import inspect, re
from pathlib import Path
import pytest
import numpy as np
import torch
from transformers import Trainer
import peft.utils.save_and_load as peft_io

PKG = Path(__file__).resolve().parents[1]/'ragft_nb'
FORBIDDEN = [r'\bimport pickle\b', r'\bpickle\.', r'\bdill\b', r'torch\.load\(', r'allow_pickle\s*=\s*True', r'trust_remote_code\s*=\s*True',
             r'\bjoblib\b', r'\bshelve\b']

def test_package_never_unpickles():
    hits = [(f.name, i, line.strip()) for f in sorted(PKG.glob('*.py')) if f.name != '_modidx.py'
            for i, line in enumerate(f.read_text().splitlines(), 1) for pat in FORBIDDEN if re.search(pat, line)]
    assert not hits, hits
    from_pretrained = [(f.name, line.strip()) for f in PKG.glob('*.py') for line in f.read_text().splitlines()
                       if re.search(r'(AutoModel\w*|AutoTokenizer|SentenceTransformer)(\.from_pretrained)?\(', line) and 'import' not in line]
    assert from_pretrained and all('trust_remote_code=False' in l for _, l in from_pretrained), from_pretrained

def torch_loads(src):
    "The argument text of every `torch.load(...)` call in `src` (up to its matching parenthesis)."
    out = []
    for m in re.finditer(r'torch\.load\(', src):
        depth, i = 1, m.end()
        while depth: depth += {'(': 1, ')': -1}.get(src[i], 0); i += 1
        out.append(src[m.end():i - 1])
    return out

@pytest.mark.parametrize('fn', ['_load_rng_state', '_load_optimizer_and_scheduler', '_load_from_checkpoint', '_load_best_model'])
def test_trainer_resume_loads_weights_only(fn):
    src = inspect.getsource(getattr(Trainer, fn))
    for call in torch_loads(src): assert 'weights_only=True' in call, (fn, call)
    assert 'training_args.bin' not in src and 'TRAINING_ARGS_NAME' not in src      # the pickled args are never read back

def test_peft_adapter_loading_is_weights_only():
    assert inspect.signature(peft_io.torch_load).parameters['weights_only'].default is True
    assert 'torch.load(' not in inspect.getsource(peft_io.load_peft_weights)       # it goes through torch_load

def test_weights_only_refuses_objects(tmp_path):
    "What `weights_only=True` buys: a pickled object (which could run code when loaded) is refused."
    class Payload:
        def __reduce__(self): return (print, ('this would run at load time',))
    torch.save({'x': Payload()}, tmp_path/'evil.pt')
    with pytest.raises(Exception, match='[Ww]eights only load failed|Unsupported global'):
        torch.load(tmp_path/'evil.pt', weights_only=True)
