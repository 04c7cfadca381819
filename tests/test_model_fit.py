"""Model fit: a served model's weights plus the KV cache for maxNumSeqs sequences of maxModelLen
tokens must fit the replica's GPUs at gpuMemoryUtilization, the plan refuses what does not (naming
the numbers), and vLLM is started on exactly the figures the check assumed."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from components.k8s.gpu import GPU_INSTANCES, chip_of, instance_of
from components.k8s.model_fit import MODEL_CATALOG, ServingChoice, architecture_of, check_fit
from stacks.config import load_config, model_serving
from stacks.errors import ConfigError
from tests.conftest import load_stack
from tests.plan_matrix import CASES, SCALE_CASES, case_config, plan_for

MODEL_KEY = "llm-platform:scale"


def _load(document: dict[str, Any]) -> Any:
    raw = {k: v if isinstance(v, str) else json.dumps(v) for k, v in document.items()}
    secret_keys = {k for k, v in document.items() if isinstance(v, dict) and set(v) == {"secure"}}
    return load_config(raw, secret_keys)


def _scale_config(models: list[dict[str, Any]], pools: list[dict[str, Any]] | None = None, base: str = "scale-aws") -> Any:
    document = copy.deepcopy(load_stack(base))["config"]
    scale = document[MODEL_KEY]
    if pools is not None:
        scale["gpuPools"] = pools
    scale["models"] = models
    for route in scale["routes"]:  # the example's routes and teams stay; self-hosted ones serve the first model
        if route.get("selfHosted"):
            route["selfHosted"] = [models[0]["name"]]
    return _load(document)


def _refusal(models: list[dict[str, Any]], pools: list[dict[str, Any]] | None = None, base: str = "scale-aws") -> str:
    with pytest.raises(ConfigError) as caught:
        _scale_config(models, pools, base)
    return caught.value.render()


L40S_POOL = [{"name": "l40s", "instanceType": "g6e.xlarge", "maxSize": 4}]
L40S_X4_POOL = [{"name": "l40s4", "instanceType": "g6e.12xlarge", "maxSize": 2}]


def test_llama_70b_on_one_l40s_is_refused_with_the_numbers() -> None:
    message = _refusal([{"name": "llama", "huggingFaceId": "meta-llama/Llama-3.1-70B-Instruct", "pool": "l40s", "maxReplicas": 1}], L40S_POOL)
    assert "llm-platform:scale.models[0]" in message
    assert "Llama 3.1 70B bf16 needs 141 GB of weights" in message
    assert "1 x L40S (48 GB) at gpuMemoryUtilization 0.9 gives 43 GB" in message
    assert "\n" not in message


def test_llama_70b_fits_four_l40s_only_with_a_shorter_context() -> None:
    llama = {"name": "llama", "huggingFaceId": "meta-llama/Llama-3.1-70B-Instruct", "pool": "l40s4", "gpusPerReplica": 4, "maxReplicas": 2}
    # 4 x 48 GB x 0.9 = 173 GB: 141 GB weights + 8 GB reserve leave ~24 GB, not 131072 x 0.33 MB = 43 GB.
    message = _refusal([llama], L40S_X4_POOL)
    assert "KV cache for 1 x 131072 tokens" in message and "room for 0 such sequence(s)" in message
    config = _scale_config([{**llama, "maxModelLen": 32768}], L40S_X4_POOL)
    assert config.scale.models[0].max_model_len == 32768
    # ... and FP8 weights (71 GB) make room for the full context.
    _scale_config([{**llama, "quantization": "fp8"}], L40S_X4_POOL)


def test_concurrency_counts_full_length_sequences() -> None:
    qwen = {"name": "qwen-7b", "huggingFaceId": "Qwen/Qwen2.5-7B-Instruct", "pool": "l4", "maxReplicas": 4, "maxModelLen": 16384}
    _scale_config([{**qwen, "maxNumSeqs": 4}])  # 15 GB + 2 GB + 4 x 0.94 GB <= 21.6 GB on one L4
    message = _refusal([{**qwen, "maxNumSeqs": 16}])
    assert "for 16 x 16384 tokens" in message and "Lower maxModelLen or maxNumSeqs" in message
    # FP8 KV cache halves it: 16 x 0.47 GB still does not fit, 8 do.
    _scale_config([{**qwen, "maxNumSeqs": 8, "kvCacheDtype": "fp8"}])


def test_gpu_memory_utilization_is_part_of_the_budget() -> None:
    qwen = {"name": "qwen-7b", "huggingFaceId": "Qwen/Qwen2.5-7B-Instruct", "pool": "l4", "maxReplicas": 4, "maxModelLen": 16384}
    message = _refusal([{**qwen, "gpuMemoryUtilization": 0.7}])
    assert "at gpuMemoryUtilization 0.7 gives 17 GB" in message


def test_tensor_parallel_must_divide_the_attention_heads() -> None:
    # Qwen2.5-7B has 28 attention heads: vLLM cannot split them over 8 GPUs.
    pools = [{"name": "l4x8", "instanceType": "g6.48xlarge", "maxSize": 1}]
    message = _refusal([{"name": "qwen-7b", "huggingFaceId": "Qwen/Qwen2.5-7B-Instruct", "pool": "l4x8", "gpusPerReplica": 8, "maxReplicas": 1}], pools)
    assert "28 attention heads" in message and "llm-platform:scale.models[0]" in message


def test_context_beyond_the_model_is_refused() -> None:
    message = _refusal([{"name": "qwen-7b", "huggingFaceId": "Qwen/Qwen2.5-7B-Instruct", "pool": "l4", "maxReplicas": 1, "maxModelLen": 65536}])
    assert "exceeds the 32768 positions" in message


def test_unknown_model_needs_its_architecture() -> None:
    model = {"name": "mine", "huggingFaceId": "acme/secret-model-9b", "pool": "l4", "maxReplicas": 1, "maxModelLen": 8192}
    message = _refusal([model])
    assert "llm-platform:scale.models[0].architecture" in message
    for key in ("parameters", "layers", "attentionHeads", "kvHeads", "headDim", "contextLength", "weightBits"):
        assert key in message
    architecture = {"parameters": 9.0, "layers": 40, "attentionHeads": 32, "kvHeads": 8, "headDim": 128, "contextLength": 32768}
    _scale_config([{**model, "architecture": architecture}])
    assert "30 GB of weights" in _refusal([{**model, "architecture": {**architecture, "parameters": 15.0}}])


def test_fp8_needs_ampere_or_later() -> None:
    pools = [{"name": "tfour", "instanceType": "Standard_NC16as_T4_v3", "maxSize": 2}]
    message = _refusal([{"name": "qwen", "huggingFaceId": "Qwen/Qwen2.5-3B-Instruct", "pool": "tfour", "maxReplicas": 1, "maxModelLen": 8192, "quantization": "fp8"}], pools, base="scale-azure")
    assert "llm-platform:scale.models[0].quantization" in message and "compute capability" in message


def test_catalog_figures_are_consistent() -> None:
    for model_id, arch in MODEL_CATALOG.items():
        assert model_id == model_id.lower()
        assert arch.kv_heads <= arch.attention_heads and arch.attention_heads % arch.kv_heads == 0, model_id
        assert arch.head_dim in (64, 128, 256), model_id
        assert arch.weight_bits in (4, 8, 16)
    assert architecture_of("qwen/QWEN2.5-7B-instruct") is architecture_of("Qwen/Qwen2.5-7B-Instruct")
    # Llama 3.1 70B in bf16: the figure (70.6B x 2 bytes).
    choice = ServingChoice("meta-llama/Llama-3.1-70B-Instruct", MODEL_CATALOG["meta-llama/llama-3.1-70b-instruct"], 1, 48, "L40S")
    assert round(check_fit(choice).weights_gb) == 141
    assert check_fit(choice).kv_bytes_per_token == 80 * 8 * 128 * 2 * 2


def test_every_gpu_instance_has_a_known_chip() -> None:
    assert all(chip_of(t) is not None for t in GPU_INSTANCES)


@pytest.mark.parametrize("case_id", SCALE_CASES)
def test_vllm_runs_on_the_figures_the_fit_check_assumed(case_id: str) -> None:
    """Every model server's flags are the fit check's: --max-model-len (the configured one or the
    model's own), --gpu-memory-utilization, --max-num-seqs when set, and it fits."""
    plan = plan_for(case_id)
    loaded = _load(case_config(CASES[case_id])["config"])
    pools = {p.name: p.instance_type for p in loaded.scale.gpu_pools}
    servers = {r.inputs["metadata"]["name"]: r for r in plan.resources if r.type == "kubernetes:apps/v1:Deployment" and r.inputs["metadata"]["name"].startswith("vllm-")}
    assert servers
    for model in loaded.scale.models:
        args = servers[f"vllm-{model.name}"].inputs["spec"]["template"]["spec"]["containers"][0]["args"]
        flags = dict(zip(args[1::2], args[2::2], strict=True))
        choice = model_serving(model, pools[model.pool])
        fit = check_fit(choice)
        assert not fit.problems
        assert args.count("--max-model-len") == 1 and flags["--max-model-len"] == str(fit.context)
        assert float(flags["--gpu-memory-utilization"]) == choice.gpu_memory_utilization
        assert flags.get("--max-num-seqs") == (str(model.max_num_seqs) if model.max_num_seqs else None)
        assert flags["--tensor-parallel-size"] == str(model.gpus_per_replica)
        assert instance_of(pools[model.pool]) is not None

