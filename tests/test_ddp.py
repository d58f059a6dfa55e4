"""Data-parallel LoRA training on CPU: 2 ranks under torchrun and under accelerate end with identical weights and follow
the single-process loss curve (same global batch) within 0.02 nats; a run that is not truly data-parallel fails this."""
import json, os, socket, subprocess, sys
from pathlib import Path
import pytest

pytestmark = pytest.mark.xdist_group('ddp')   # under pytest-xdist: both launchers share the single-process run
BIN = Path(sys.executable).parent
TOL = 0.02   # nats: the all-reduce sums in another order than one process does; a real difference is far larger

def free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def run(cmd, out, extra_env=None):
    env = {**os.environ, 'OMP_NUM_THREADS': '1', **(extra_env or {})}
    r = subprocess.run([*cmd, str(BIN/'ragft_ddp_check'), '--out', str(out), '--steps', '3', '--global_batch', '4'],
                       capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return [json.loads(p.read_text()) for p in sorted(Path(out).glob('rank*.json'))]

@pytest.fixture(scope='module')
def single(tmp_path_factory):
    (r,) = run([], tmp_path_factory.mktemp('single'))
    assert r['world_size'] == 1 and len(r['losses']) == 3
    return r

@pytest.mark.parametrize('launcher', ['torchrun', 'accelerate'])
def test_two_ranks_are_one_training(tmp_path, single, launcher):
    port = str(free_port())
    if launcher == 'torchrun': cmd, env = [str(BIN/'torchrun'), '--nproc_per_node', '2', '--master_port', port], None
    else: cmd, env = [str(BIN/'accelerate'), 'launch', '--multi_gpu', '--num_processes', '2', '--main_process_port', port], {'ACCELERATE_USE_CPU': '1'}
    ranks = run(cmd, tmp_path, env)
    assert [r['rank'] for r in ranks] == [0, 1] and all(r['world_size'] == 2 for r in ranks)   # two processes, one job
    assert ranks[0]['weights'] == ranks[1]['weights']                                           # gradients were averaged
    for r in ranks:
        assert len(r['losses']) == 3 and max(abs(a - b) for a, b in zip(r['losses'], single['losses'])) < TOL
    assert single['losses'][-1] < single['losses'][0]                                           # it did train
