"""GPU facts in one place: the taint and label GPU pools carry and GPU workloads tolerate and
select (so pools and pods can never disagree), and the shape of each GPU instance type.

Shapes (GPUs, vCPUs, memory, GPU memory) from the EC2 accelerated-computing instance page and
the Azure N-series size pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class GpuScheduling:
    taint_key: str
    taint_value: str
    label_key: str
    label_value: str
    resource: str  # extended resource the device plugin advertises

    @property
    def eks_taint(self) -> dict[str, str]:
        return {"key": self.taint_key, "value": self.taint_value, "effect": "NO_SCHEDULE"}

    @property
    def aks_taint(self) -> str:
        return f"{self.taint_key}={self.taint_value}:NoSchedule"

    @property
    def node_labels(self) -> dict[str, str]:
        return {self.label_key: self.label_value}

    @property
    def toleration(self) -> dict[str, str]:
        return {"key": self.taint_key, "operator": "Equal", "value": self.taint_value, "effect": "NoSchedule"}

    @property
    def node_selector(self) -> dict[str, str]:
        return {self.label_key: self.label_value}


# Every node of a GPU or system pool carries its pool's name under this label (EKS node groups with
# the Cluster Autoscaler's node-template tag, AKS agent pools); a model server selects its pool.
POOL_LABEL: Final = "llm-platform.io/pool"

GPU: Final = GpuScheduling(
    taint_key="nvidia.com/gpu",
    taint_value="true",
    label_key="accelerator",
    label_value="nvidia",
    resource="nvidia.com/gpu",
)

@dataclass(frozen=True)
class GpuInstance:
    gpus: int
    vcpus: int
    memory_gib: int
    gpu_memory_gib: int  # per GPU
    # GPU type as the Cluster Autoscaler names it in the k8s.amazonaws.com/accelerator label
    # (kubernetes/autoscaler cloudprovider/aws/aws_cloud_provider.go availableGPUTypes @55c37cd).
    accelerator: str = "nvidia"

    def share(self, gpus: int) -> tuple[int, int]:
        """CPU and memory (GiB) a pod using `gpus` of this instance may request: its GPU share of
        what is left after the kubelet, system reserve and node daemons (about 80% CPU, 75% memory)."""
        fraction = gpus / self.gpus
        return max(1, int(self.vcpus * 0.8 * fraction)), max(4, int(self.memory_gib * 0.75 * fraction))


def _sizes(family: str, sizes: dict[str, tuple[int, int, int]], gpu_memory_gib: int, accelerator: str) -> dict[str, GpuInstance]:
    return {f"{family}.{size}": GpuInstance(gpus, vcpus, memory, gpu_memory_gib, accelerator) for size, (gpus, vcpus, memory) in sizes.items()}


_G5_G6 = {"xlarge": (1, 4, 16), "2xlarge": (1, 8, 32), "4xlarge": (1, 16, 64), "8xlarge": (1, 32, 128), "16xlarge": (1, 64, 256), "12xlarge": (4, 48, 192), "24xlarge": (4, 96, 384), "48xlarge": (8, 192, 768)}
_G6E = {"xlarge": (1, 4, 32), "2xlarge": (1, 8, 64), "4xlarge": (1, 16, 128), "8xlarge": (1, 32, 256), "16xlarge": (1, 64, 512), "12xlarge": (4, 48, 384), "24xlarge": (4, 96, 768), "48xlarge": (8, 192, 1536)}

GPU_INSTANCES: Final[dict[str, GpuInstance]] = {
    # AWS: NVIDIA A10G (g5), L4 (g6), L40S (g6e), A100 40 GB (p4d), H100 (p5)
    **_sizes("g5", _G5_G6, 24, "nvidia-a10g"),
    **_sizes("g6", _G5_G6, 24, "nvidia-l4"),
    **_sizes("g6e", _G6E, 48, "nvidia-l40s"),
    "p4d.24xlarge": GpuInstance(8, 96, 1152, 40, "nvidia-tesla-a100"),
    "p5.48xlarge": GpuInstance(8, 192, 2048, 80, "nvidia-h100"),
    # Azure: T4 (NCasT4_v3), A10 (NVadsA10_v5, full-GPU sizes), A100 80 GB (NC A100 v4), A100 40 GB
    # (ND A100 v4), H100 NVL (NC H100 v5), H100 (ND H100 v5)
    "Standard_NC4as_T4_v3": GpuInstance(1, 4, 28, 16),
    "Standard_NC8as_T4_v3": GpuInstance(1, 8, 56, 16),
    "Standard_NC16as_T4_v3": GpuInstance(1, 16, 110, 16),
    "Standard_NC64as_T4_v3": GpuInstance(4, 64, 440, 16),
    "Standard_NV36ads_A10_v5": GpuInstance(1, 36, 440, 24),
    "Standard_NV72ads_A10_v5": GpuInstance(2, 72, 880, 24),
    "Standard_NC24ads_A100_v4": GpuInstance(1, 24, 220, 80),
    "Standard_NC48ads_A100_v4": GpuInstance(2, 48, 440, 80),
    "Standard_NC96ads_A100_v4": GpuInstance(4, 96, 880, 80),
    "Standard_ND96asr_v4": GpuInstance(8, 96, 900, 40),
    "Standard_NC40ads_H100_v5": GpuInstance(1, 40, 320, 94),
    "Standard_NC80adis_H100_v5": GpuInstance(2, 80, 640, 94),
    "Standard_ND96isr_H100_v5": GpuInstance(8, 96, 1900, 80),
}


def instance_of(instance_type: str) -> GpuInstance | None:
    return GPU_INSTANCES.get(instance_type)


@dataclass(frozen=True)
class GpuChip:
    """One GPU's serving figures, from NVIDIA's data sheets (read 2026-11-30): memory bandwidth and
    dense (no sparsity) BF16/FP16 tensor TFLOPS; the compute capability decides kernels (FP8 needs
    8.0+ in vLLM: weight-only Marlin on 8.0-8.6, native on 8.9+)."""

    name: str
    bandwidth_gb_s: float
    tflops: float
    compute_capability: float
    source: str


GPU_CHIPS: Final[dict[str, GpuChip]] = {
    chip.name: chip
    for chip in (
        GpuChip("T4", 320, 65, 7.5, "https://www.nvidia.com/en-us/data-center/tesla-t4/ (FP16 mixed precision)"),
        # NVIDIA publishes no A10G data sheet: bandwidth as the A10; tensor throughput about half the
        # A10's 125 TFLOPS (AWS lists 250 TOPS INT8-sparse for the g5 GPU); an estimate.
        GpuChip("A10G", 600, 70, 8.6, "https://aws.amazon.com/ec2/instance-types/g5/ and the A10 data sheet (estimate)"),
        GpuChip("A10", 600, 125, 8.6, "https://www.nvidia.com/en-us/data-center/products/a10-gpu/"),
        GpuChip("L4", 300, 121, 8.9, "https://www.nvidia.com/en-us/data-center/l4/"),
        GpuChip("L40S", 864, 362, 8.9, "https://www.nvidia.com/en-us/data-center/l40s/"),
        GpuChip("A100-40GB", 1555, 312, 8.0, "https://www.nvidia.com/en-us/data-center/a100/ (SXM4 40GB)"),
        GpuChip("A100-80GB-PCIe", 1935, 312, 8.0, "https://www.nvidia.com/en-us/data-center/a100/ (PCIe 80GB)"),
        GpuChip("H100-SXM", 3350, 989, 9.0, "https://www.nvidia.com/en-us/data-center/h100/ (SXM)"),
        GpuChip("H100-NVL", 3900, 835, 9.0, "https://www.nvidia.com/en-us/data-center/h100/ (NVL)"),
    )
}

# Instance type -> chip: EC2 families by prefix, Azure sizes by their series suffix.
_CHIP_OF_FAMILY: Final = (
    (re.compile(r"^g4dn\."), "T4"),
    (re.compile(r"^g5\."), "A10G"),
    (re.compile(r"^g6\."), "L4"),
    (re.compile(r"^g6e\."), "L40S"),
    (re.compile(r"^p4d\."), "A100-40GB"),
    (re.compile(r"^p5\."), "H100-SXM"),
    (re.compile(r"^Standard_NC\d+as_T4_v3$"), "T4"),
    (re.compile(r"^Standard_NV\d+ads_A10_v5$"), "A10"),
    (re.compile(r"^Standard_NC\d+ads_A100_v4$"), "A100-80GB-PCIe"),
    (re.compile(r"^Standard_ND96asr_v4$"), "A100-40GB"),
    (re.compile(r"^Standard_NC\d+adi?s_H100_v5$"), "H100-NVL"),
    (re.compile(r"^Standard_ND96isr_H100_v5$"), "H100-SXM"),
)


def chip_of(instance_type: str) -> GpuChip | None:
    return next((GPU_CHIPS[chip] for pattern, chip in _CHIP_OF_FAMILY if pattern.match(instance_type)), None)


def is_azure_size(instance_type: str) -> bool:
    return instance_type.startswith("Standard_")
