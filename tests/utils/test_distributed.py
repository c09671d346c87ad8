"""CPU (gloo) launch preparation of multi-GPU configs."""
import pytest
import torch


@pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU launch path only')
def test_cpu_launch_uses_gloo_and_drops_sync_bn(tmp_path):
    import torch.distributed as dist
    from mmengine.config import Config

    from clipdense.utils import prepare_distributed

    cfg = Config(dict(sync_bn='torch', env_cfg=dict(cudnn_benchmark=False),
                      model_wrapper_cfg=dict(find_unused_parameters=True)))
    dist.init_process_group('gloo', init_method=f'file://{tmp_path / "store"}', rank=0,
                            world_size=1)
    try:
        prepare_distributed(cfg, 'pytorch')
    finally:
        dist.destroy_process_group()
    assert cfg.sync_bn is None
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg.to_dict() == dict(type='MMDistributedDataParallelCPU',
                                                   find_unused_parameters=True)


def test_launcher_none_leaves_the_config_alone():
    from mmengine.config import Config

    from clipdense.utils import prepare_distributed

    cfg = Config(dict(sync_bn='torch', env_cfg=dict()))
    prepare_distributed(cfg, 'none')
    assert cfg.sync_bn == 'torch' and 'dist_cfg' not in cfg.env_cfg
