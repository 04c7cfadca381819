"""Does a served model fit its replica's GPUs, and what does one replica deliver?

vLLM reserves `gpu_memory_utilization` x each GPU's memory, loads the weights (split over
`--tensor-parallel-size` GPUs), keeps a runtime reserve (activations of its profiling run, CUDA
graphs, NCCL buffers) and gives the rest to the KV cache; it refuses to start when the cache cannot
hold one sequence of `--max-model-len` tokens ("The model's max seq len ... is larger than the
maximum number of tokens that can be stored in KV cache", vllm/v1/core/kv_cache_utils.py,
vllm-project/vllm v0.18.0). The plan applies the same arithmetic before anything is deployed,
requiring `maxNumSeqs` sequences of `maxModelLen` tokens (1 when maxNumSeqs is not set), and
passes vLLM exactly the figures it assumed (`engine_args`).

Architecture facts are each model's config.json on Hugging Face
(https://huggingface.co/<id>/blob/main/config.json: num_hidden_layers, num_attention_heads,
num_key_value_heads, head_dim or hidden_size / num_attention_heads, max_position_embeddings) and
the parameter count its model card shows (safetensors metadata), as of 2026-11-30; Qwen2/2.5
figures cross-checked against copies of those config.json files in public repositories (code
search, 2026-11-30). Models with multi-head latent attention (DeepSeek-V2/V3/R1) or sliding-window
layers (Gemma 2/3) store KV differently: they are not in the catalog and need `architecture` set
with figures that describe their cache per token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

# vLLM's default --gpu-memory-utilization (vllm/engine/arg_utils.py EngineArgs, v0.18.0).
DEFAULT_GPU_MEMORY_UTILIZATION: Final = 0.9
# Per GPU, outside weights and KV cache: CUDA context, the profiling run's peak activations at the
# default batched-token budget, CUDA graphs, NCCL buffers. An estimate (1-3 GB is what vLLM logs
# for 7B-70B models on one GPU); measure with the engine's startup log ("Available KV cache memory").
RUNTIME_RESERVE_GB: Final = 2.0
GB: Final = 1e9

Quantization = Literal["fp8"]
KvCacheDtype = Literal["auto", "fp8"]


@dataclass(frozen=True)
class ModelArchitecture:
    parameters_b: float  # billions, as the model card lists them (MoE: all experts)
    layers: int
    attention_heads: int
    kv_heads: int
    head_dim: int
    context: int  # max_position_embeddings: vLLM's --max-model-len when none is given
    weight_bits: int = 16  # 16 (bf16/fp16 checkpoint), 8 (FP8 checkpoint), 4 (AWQ/GPTQ checkpoint)
    label: str = ""

    def kv_bytes_per_token(self, tensor_parallel: int, kv_bytes: int) -> int:
        """K and V for every layer; a KV head is replicated when there are more GPUs than KV heads."""
        return self.layers * max(self.kv_heads, tensor_parallel) * self.head_dim * 2 * kv_bytes


def _family(label: str, ids: tuple[str, ...], parameters_b: float, layers: int, heads: int, kv_heads: int, head_dim: int, context: int, weight_bits: int = 16) -> dict[str, ModelArchitecture]:
    arch = ModelArchitecture(parameters_b, layers, heads, kv_heads, head_dim, context, weight_bits, label)
    return {model_id.lower(): arch for model_id in ids}


# Keyed by lower-case Hugging Face id (ModelScope uses the same ids for these organisations).
# Base and instruct checkpoints share an architecture.
MODEL_CATALOG: Final[dict[str, ModelArchitecture]] = {
    # Qwen2.5 (Qwen2ForCausalLM; max_position_embeddings 32768, YaRN beyond it is opt-in)
    **_family("Qwen2.5 0.5B", ("Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-0.5B"), 0.49, 24, 14, 2, 64, 32768),
    **_family("Qwen2.5 1.5B", ("Qwen/Qwen2.5-1.5B-Instruct", "Qwen/Qwen2.5-1.5B"), 1.54, 28, 12, 2, 128, 32768),
    **_family("Qwen2.5 3B", ("Qwen/Qwen2.5-3B-Instruct", "Qwen/Qwen2.5-3B"), 3.09, 36, 16, 2, 128, 32768),
    **_family("Qwen2.5 7B", ("Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-Coder-7B-Instruct"), 7.62, 28, 28, 4, 128, 32768),
    **_family("Qwen2.5 14B", ("Qwen/Qwen2.5-14B-Instruct", "Qwen/Qwen2.5-14B", "Qwen/Qwen2.5-Coder-14B-Instruct"), 14.8, 48, 40, 8, 128, 32768),
    **_family("Qwen2.5 32B", ("Qwen/Qwen2.5-32B-Instruct", "Qwen/Qwen2.5-32B", "Qwen/Qwen2.5-Coder-32B-Instruct"), 32.8, 64, 40, 8, 128, 32768),
    **_family("Qwen2.5 72B", ("Qwen/Qwen2.5-72B-Instruct", "Qwen/Qwen2.5-72B"), 72.7, 80, 64, 8, 128, 32768),
    # AWQ checkpoints: 4-bit weights (the embedding and output layers stay 16-bit: see _weight_bytes).
    **_family("Qwen2.5 32B AWQ", ("Qwen/Qwen2.5-32B-Instruct-AWQ",), 32.8, 64, 40, 8, 128, 32768, weight_bits=4),
    **_family("Qwen2.5 72B AWQ", ("Qwen/Qwen2.5-72B-Instruct-AWQ",), 72.7, 80, 64, 8, 128, 32768, weight_bits=4),
    # Qwen3 (Qwen3ForCausalLM / Qwen3MoeForCausalLM; head_dim 128 set explicitly; 40960 positions)
    **_family("Qwen3 4B", ("Qwen/Qwen3-4B",), 4.02, 36, 32, 8, 128, 40960),
    **_family("Qwen3 8B", ("Qwen/Qwen3-8B",), 8.19, 36, 32, 8, 128, 40960),
    **_family("Qwen3 14B", ("Qwen/Qwen3-14B",), 14.8, 40, 40, 8, 128, 40960),
    **_family("Qwen3 32B", ("Qwen/Qwen3-32B",), 32.8, 64, 64, 8, 128, 40960),
    **_family("Qwen3 30B-A3B", ("Qwen/Qwen3-30B-A3B",), 30.5, 48, 32, 4, 128, 40960),
    # Qwen3Guard-Gen guard models (the content filter, components/gateway_guard.py): Qwen3
    # architecture of their base models (model cards' base_model Qwen/Qwen3-0.6B, -4B, -8B:
    # 28 layers x 16 heads / 8 KV heads, 36 x 32 / 8, 36 x 32 / 8, head_dim 128); parameters as
    # the Hugging Face pages show them (0.6B: 0.8B with its untied output layer, featherless.ai
    # model page); context 32768, what the model card serves them with (`vllm serve
    # Qwen/Qwen3Guard-Gen-4B --max-model-len 32768`, github.com/QwenLM/Qwen3Guard README, read
    # 2026-11-30). Same ids on ModelScope (modelscope.cn/models/Qwen/Qwen3Guard-Gen-0.6B, README).
    **_family("Qwen3Guard-Gen 0.6B", ("Qwen/Qwen3Guard-Gen-0.6B",), 0.8, 28, 16, 8, 128, 32768),
    **_family("Qwen3Guard-Gen 4B", ("Qwen/Qwen3Guard-Gen-4B",), 4.02, 36, 32, 8, 128, 32768),
    **_family("Qwen3Guard-Gen 8B", ("Qwen/Qwen3Guard-Gen-8B",), 8.19, 36, 32, 8, 128, 32768),
    # Llama Guard 3 8B: a Llama 3.1 8B fine-tune (huggingface.co/meta-llama/Llama-Guard-3-8B).
    **_family("Llama Guard 3 8B", ("meta-llama/Llama-Guard-3-8B",), 8.03, 32, 32, 8, 128, 131072),
    # Llama 3.x (LlamaForCausalLM; 131072 positions with llama3 RoPE scaling)
    **_family("Llama 3.2 1B", ("meta-llama/Llama-3.2-1B-Instruct",), 1.24, 16, 32, 8, 64, 131072),
    **_family("Llama 3.2 3B", ("meta-llama/Llama-3.2-3B-Instruct",), 3.21, 28, 24, 8, 128, 131072),
    **_family("Llama 3.1 8B", ("meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Meta-Llama-3.1-8B-Instruct"), 8.03, 32, 32, 8, 128, 131072),
    **_family("Llama 3.1 70B", ("meta-llama/Llama-3.1-70B-Instruct", "meta-llama/Meta-Llama-3.1-70B-Instruct"), 70.6, 80, 64, 8, 128, 131072),
    **_family("Llama 3.3 70B", ("meta-llama/Llama-3.3-70B-Instruct",), 70.6, 80, 64, 8, 128, 131072),
    # DeepSeek-R1 distills (Qwen2 / Llama architectures, 131072 positions)
    **_family("DeepSeek-R1-Distill-Qwen 7B", ("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",), 7.62, 28, 28, 4, 128, 131072),
    **_family("DeepSeek-R1-Distill-Qwen 14B", ("deepseek-ai/DeepSeek-R1-Distill-Qwen-14B",), 14.8, 48, 40, 8, 128, 131072),
    **_family("DeepSeek-R1-Distill-Qwen 32B", ("deepseek-ai/DeepSeek-R1-Distill-Qwen-32B",), 32.8, 64, 40, 8, 128, 131072),
    **_family("DeepSeek-R1-Distill-Llama 8B", ("deepseek-ai/DeepSeek-R1-Distill-Llama-8B",), 8.03, 32, 32, 8, 128, 131072),
    **_family("DeepSeek-R1-Distill-Llama 70B", ("deepseek-ai/DeepSeek-R1-Distill-Llama-70B",), 70.6, 80, 64, 8, 128, 131072),
    # Mistral (MistralForCausalLM)
    **_family("Mistral 7B v0.3", ("mistralai/Mistral-7B-Instruct-v0.3",), 7.25, 32, 32, 8, 128, 32768),
    **_family("Mistral Nemo 12B", ("mistralai/Mistral-Nemo-Instruct-2407",), 12.2, 40, 32, 8, 128, 1024000),
    **_family("Mistral Small 24B", ("mistralai/Mistral-Small-24B-Instruct-2501",), 23.6, 40, 32, 8, 128, 32768),
    # GLM-4 (Glm4ForCausalLM / GlmForCausalLM: 2 KV groups of 128)
    **_family("GLM-4 9B", ("THUDM/glm-4-9b-chat-hf", "zai-org/glm-4-9b-chat-hf"), 9.4, 40, 32, 2, 128, 131072),
    **_family("GLM-4 9B 0414", ("THUDM/GLM-4-9B-0414", "zai-org/GLM-4-9B-0414"), 9.4, 40, 32, 2, 128, 32768),
}


def architecture_of(model_id: str) -> ModelArchitecture | None:
    return MODEL_CATALOG.get(model_id.lower())


@dataclass(frozen=True)
class ServingChoice:
    """What the stack chose for one model (components stay independent of the config classes)."""

    model_id: str
    architecture: ModelArchitecture
    gpus: int  # per replica = tensor parallel size
    gpu_memory_gb: float  # per GPU, as the instance catalog lists it
    gpu_label: str  # e.g. "L40S" or the instance type
    max_model_len: int | None = None
    max_num_seqs: int | None = None
    gpu_memory_utilization: float = DEFAULT_GPU_MEMORY_UTILIZATION
    quantization: Quantization | None = None
    kv_cache_dtype: KvCacheDtype = "auto"


@dataclass(frozen=True)
class Fit:
    choice: ServingChoice
    context: int  # the --max-model-len vLLM gets
    sequences: int  # full-length sequences the KV cache must hold at once
    weights_gb: float
    reserve_gb: float
    kv_gb: float
    kv_bytes_per_token: int
    available_gb: float
    problems: tuple[str, ...]

    @property
    def needed_gb(self) -> float:
        return self.weights_gb + self.reserve_gb + self.kv_gb

    @property
    def spare_kv_tokens(self) -> int:
        """Tokens of KV cache left once the weights and reserve are in (what batching can use)."""
        return max(0, int((self.available_gb - self.weights_gb - self.reserve_gb) * GB / self.kv_bytes_per_token))

    def engine_args(self) -> list[str]:
        """vLLM flags that make the server run on the figures this check assumed, besides
        `--max-model-len` (= `context`, which the model server passes from its own field)."""
        c = self.choice
        args = ["--gpu-memory-utilization", f"{c.gpu_memory_utilization:g}"]
        if c.max_num_seqs:
            args += ["--max-num-seqs", str(c.max_num_seqs)]
        if c.quantization:
            args += ["--quantization", c.quantization]
        if c.kv_cache_dtype != "auto":
            args += ["--kv-cache-dtype", c.kv_cache_dtype]
        return args


def weight_bits(choice: ServingChoice) -> int:
    return 8 if choice.quantization == "fp8" else choice.architecture.weight_bits


def _weight_bytes(choice: ServingChoice) -> float:
    bits = weight_bits(choice)
    # 4-bit group-quantized checkpoints keep scales/zeros per 128 weights and 16-bit embedding and
    # output layers: about 4.5 effective bits per parameter (e.g. Qwen2.5-72B-Instruct-AWQ is
    # ~41 GB of safetensors for 72.7B parameters: an estimate, not a measurement).
    effective = 4.5 if bits == 4 else bits
    return choice.architecture.parameters_b * 1e9 * effective / 8


def _precision(choice: ServingChoice) -> str:
    bits = weight_bits(choice)
    return {16: "bf16", 8: "fp8", 4: "4-bit"}.get(bits, f"{bits}-bit")


def check_fit(choice: ServingChoice) -> Fit:
    arch = choice.architecture
    tp = choice.gpus
    context = choice.max_model_len or arch.context
    sequences = choice.max_num_seqs or 1
    kv_bytes = 1 if choice.kv_cache_dtype == "fp8" else 2
    per_token = arch.kv_bytes_per_token(tp, kv_bytes)
    weights = _weight_bytes(choice) / GB
    reserve = RUNTIME_RESERVE_GB * tp
    kv = per_token * context * sequences / GB
    available = tp * choice.gpu_memory_gb * choice.gpu_memory_utilization
    name = arch.label or choice.model_id
    problems: list[str] = []
    if arch.attention_heads % tp:
        problems.append(f"{name} has {arch.attention_heads} attention heads, which vLLM must split evenly over the replica's {tp} GPUs (tensor parallel = gpusPerReplica); use a divisor of {arch.attention_heads}")
    if context > arch.context:
        problems.append(f"maxModelLen {context} exceeds the {arch.context} positions {name} was trained for (max_position_embeddings); vLLM refuses it")
    if weights + reserve > available:
        problems.append(
            f"{name} {_precision(choice)} needs {weights:.0f} GB of weights (+{reserve:.0f} GB runtime reserve); "
            f"{tp} x {choice.gpu_label} ({choice.gpu_memory_gb:g} GB) at gpuMemoryUtilization {choice.gpu_memory_utilization:g} gives {available:.0f} GB. "
            f"Use at least {gpus_needed_for_weights(choice)} such GPUs per replica (gpusPerReplica on a larger instance type), a quantized checkpoint or quantization fp8, or a smaller model"
        )
    elif weights + reserve + kv > available:
        fits = int((available - weights - reserve) * GB / (per_token * context))
        problems.append(
            f"{name} {_precision(choice)} needs {weights:.0f} GB of weights + {reserve:.0f} GB runtime reserve + {kv:.1f} GB of KV cache for {sequences} x {context} tokens "
            f"({per_token / 1e6:.3f} MB per token) = {weights + reserve + kv:.0f} GB; {tp} x {choice.gpu_label} ({choice.gpu_memory_gb:g} GB) at gpuMemoryUtilization "
            f"{choice.gpu_memory_utilization:g} gives {available:.0f} GB, room for {fits} such sequence(s). "
            "Lower maxModelLen or maxNumSeqs, set kvCacheDtype fp8, or use more GPUs per replica"
        )
    return Fit(choice, context, sequences, weights, reserve, kv, per_token, available, tuple(problems))


# ----------------------------------------------------------------------------- throughput


@dataclass(frozen=True)
class Throughput:
    decode_tokens_s: float  # output tokens per second across the batch
    prefill_tokens_s: float  # input tokens per second
    batch: int
    basis: str

    @property
    def mixed_tokens_s(self) -> float:
        """Tokens per second for traffic that is half input, half output."""
        return 2 / (1 / self.decode_tokens_s + 1 / self.prefill_tokens_s)


def replica_throughput(fit: Fit, bandwidth_gb_s: float, tflops: float, *, bandwidth_efficiency: float, compute_efficiency: float, mean_context: int, max_batch: int) -> Throughput:
    """Decode is memory-bound: every step reads the weights and the batch's KV cache once, so a
    batch of B sequences makes B tokens per (weights + B x context x KV bytes) / bandwidth, and
    no more than the compute limit (2 FLOPs per parameter per token). The batch is what the KV
    cache holds at the mean context, capped by maxNumSeqs (or max_batch). Prefill is
    compute-bound. Per replica, all its GPUs together."""
    c = fit.choice
    tp = c.gpus
    batch = max(1, min(c.max_num_seqs or max_batch, fit.spare_kv_tokens // max(1, mean_context)))
    weights = fit.weights_gb * GB
    step_bytes = weights + batch * mean_context * fit.kv_bytes_per_token
    bandwidth = bandwidth_gb_s * GB * bandwidth_efficiency * tp
    flops_per_token = 2 * c.architecture.parameters_b * 1e9
    compute = tflops * 1e12 * compute_efficiency * tp / flops_per_token
    decode = min(batch * bandwidth / step_bytes, compute)
    basis = (
        f"{tp} x {c.gpu_label}: decode {decode:,.0f} tokens/s at batch {batch} of {mean_context}-token contexts "
        f"(reads {step_bytes / GB:.1f} GB per step at {bandwidth_efficiency:.0%} of {bandwidth_gb_s:g} GB/s per GPU), prefill {compute:,.0f} tokens/s"
    )
    return Throughput(decode, compute, batch, basis)


def gpus_needed_for_weights(choice: ServingChoice) -> int:
    """The fewest GPUs of this kind whose memory holds the weights and reserve (a hint for messages)."""
    per_gpu = choice.gpu_memory_gb * choice.gpu_memory_utilization - RUNTIME_RESERVE_GB
    return max(1, math.ceil(_weight_bytes(choice) / GB / per_gpu)) if per_gpu > 0 else 0
