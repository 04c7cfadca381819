"""What SageMaker real-time hosting offers for open LLMs: the vLLM-based serving image per region
and the GPU instance types (with their GPU memory and local storage), and which of them the
China regions offer. One table drives the config check and the component.

Sources (read 2026-11-30):
- LMI image accounts and tags: aws/sagemaker-python-sdk src/sagemaker/image_uri_config/djl-lmi.json
  (version 0.30.0: repository djl-inference, tag 0.30.0-lmi12.0.0-cu124; cn-north-1 and
  cn-northwest-1 served by account 727897471807 under amazonaws.com.cn), the same accounts as
  aws/deep-learning-containers available_images.md ("China (Beijing) / China (Ningxia)").
- GPU count and memory: aws/sagemaker-python-sdk src/sagemaker/image_uri_config/instance_gpu_info.json.
- Local NVMe storage: SageMaker "Instances storage volumes" (docs.aws.amazon.com/sagemaker/latest/
  dg/host-instance-storage.html); CreateEndpointConfig `KmsKeyId`: "You can't request a KmsKeyId
  when using an instance type with local storage" (the local volumes are encrypted by the Nitro
  hardware module), docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpointConfig.html.
- China availability: NOT confirmed from a primary source. The AWS China SageMaker pricing page
  (www.amazonaws.cn/en/sagemaker/pricing/) was not reachable from here; the set below holds the
  families AWS China has long listed for hosting in both regions (g4dn, g5, p3). Check the page
  and the account's Service Quotas ("ml.<type> for endpoint usage", default 0 for GPU types in
  new accounts) before the first deploy; extend CN_HOSTING_INSTANCES when AWS China adds types.
"""

from __future__ import annotations

from dataclasses import dataclass

# The LMI (Large Model Inference, DJL Serving) container with the vLLM rolling-batch backend.
LMI_REPOSITORY = "djl-inference"
LMI_TAG = "0.30.0-lmi12.0.0-cu124"
_DEFAULT_LMI_ACCOUNT = "763104351884"
LMI_ACCOUNTS: dict[str, str] = {
    "af-south-1": "626614931356",
    "ap-east-1": "871362719292",
    "ap-northeast-3": "364406365360",
    "ap-southeast-3": "907027046896",
    "ca-west-1": "204538143572",
    "cn-north-1": "727897471807",
    "cn-northwest-1": "727897471807",
    "eu-south-1": "692866216735",
    "il-central-1": "780543022126",
    "me-central-1": "914824155844",
    "me-south-1": "217643126080",
    "us-gov-east-1": "446045086412",
    "us-gov-west-1": "442386744353",
}
# Regions where the SDK lists the default account (763104351884).
_DEFAULT_ACCOUNT_REGIONS = frozenset(
    {
        "ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ca-central-1",
        "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1",
        "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    }
)  # fmt: skip


def lmi_image(region: str, dns_suffix: str) -> str | None:
    """The LMI image in the region's own ECR (SageMaker pulls hosting images from ECR only), or
    None where the SDK lists no LMI registry."""
    account = LMI_ACCOUNTS.get(region) or (_DEFAULT_LMI_ACCOUNT if region in _DEFAULT_ACCOUNT_REGIONS else None)
    if account is None:
        return None
    return f"{account}.dkr.ecr.{region}.{dns_suffix}/{LMI_REPOSITORY}:{LMI_TAG}"


def lmi_account(region: str) -> str | None:
    return LMI_ACCOUNTS.get(region) or (_DEFAULT_LMI_ACCOUNT if region in _DEFAULT_ACCOUNT_REGIONS else None)


@dataclass(frozen=True)
class HostingInstance:
    name: str
    gpus: int
    gpu_memory_gib: int  # total over all GPUs
    gpu: str
    local_storage: bool  # NVMe instance store: the endpoint config may not name a KMS key


def _shape(name: str, gpus: int, mib: int, gpu: str, local: bool) -> HostingInstance:
    return HostingInstance(name, gpus, mib // 1024, gpu, local)


HOSTING_INSTANCES: dict[str, HostingInstance] = {
    i.name: i
    for i in (
        _shape("ml.g4dn.xlarge", 1, 16384, "T4", True),
        _shape("ml.g4dn.2xlarge", 1, 16384, "T4", True),
        _shape("ml.g4dn.4xlarge", 1, 16384, "T4", True),
        _shape("ml.g4dn.8xlarge", 1, 16384, "T4", True),
        _shape("ml.g4dn.12xlarge", 4, 65536, "T4", True),
        _shape("ml.g4dn.16xlarge", 1, 16384, "T4", True),
        _shape("ml.g5.xlarge", 1, 24576, "A10G", True),
        _shape("ml.g5.2xlarge", 1, 24576, "A10G", True),
        _shape("ml.g5.4xlarge", 1, 24576, "A10G", True),
        _shape("ml.g5.8xlarge", 1, 24576, "A10G", True),
        _shape("ml.g5.12xlarge", 4, 98304, "A10G", True),
        _shape("ml.g5.16xlarge", 1, 24576, "A10G", True),
        _shape("ml.g5.24xlarge", 4, 98304, "A10G", True),
        _shape("ml.g5.48xlarge", 8, 183104, "A10G", True),
        _shape("ml.p3.2xlarge", 1, 16384, "V100", False),
        _shape("ml.p3.8xlarge", 4, 65536, "V100", False),
        _shape("ml.p3.16xlarge", 8, 131072, "V100", False),
        _shape("ml.p4d.24xlarge", 8, 327680, "A100", True),
        _shape("ml.p5.48xlarge", 8, 655360, "H100", True),
    )
}
# Unverified, see the module docstring.
CN_HOSTING_INSTANCES = frozenset(name for name in HOSTING_INSTANCES if name.startswith(("ml.g4dn.", "ml.g5.", "ml.p3.")))


class HostingChoiceError(ValueError):
    pass


def resolve_instance(instance_type: str, region: str) -> HostingInstance:
    """The instance shape, or HostingChoiceError naming what the region offers."""
    offered = CN_HOSTING_INSTANCES if region.startswith("cn-") else frozenset(HOSTING_INSTANCES)
    shape = HOSTING_INSTANCES.get(instance_type)
    if shape is None or instance_type not in offered:
        where = f"SageMaker hosting in {region}" if region.startswith("cn-") else "the SageMaker GPU hosting catalog"
        raise HostingChoiceError(f"is not a GPU instance type of {where} (components/aws/sagemaker_catalog.py); allowed: {', '.join(sorted(offered))}")
    return shape
