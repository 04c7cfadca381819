"""Monthly cost estimate of a stack from its recorded plan and `scripts/data/prices.yaml`, beside
the stack's budget: one line per priced resource (quantity x unit price), the token cost of the
expected traffic, and every resource without a price listed as such (never counted as zero).

    python -m scripts cost STACK [--plan PLAN.json] [--tokens-per-month N] [--json]
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from components.fx import RATES

PRICES_FILE = Path(__file__).resolve().parents[1] / "data" / "prices.yaml"


class CostInputError(Exception):
    """Bad input (unreadable plan, bad token volume, broken price file): exit code 2."""


# ------------------------------------------------------------------------------ price data


@dataclass(frozen=True)
class Price:
    list_name: str  # the list it came from (a regional list: "<list>@<region>")
    item: str
    amount: float  # in `currency`
    currency: str
    unit: str
    region: str
    source: str
    as_of: str
    usd: float  # the amount converted at the file's exchange rate


class PriceBook:
    """Price lists, each in its own currency (a list without `currency` is in the file's), and
    the exchange rates between currencies (units per USD), so an estimate can be made in any
    currency the file has a rate for."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.hours_per_month = float(data["hours_per_month"])
        self.currency = str(data["currency"])
        # Exchange rates: components/fx.py, the one table the gateway budgets use too.
        self.rates = {code: rate.per_usd for code, rate in RATES.items()}

    def _currency_of(self, entry: Mapping[str, Any]) -> str:
        return str(entry.get("currency") or self.currency)

    def list_for(self, list_name: str, region: str | None) -> str:
        """`<list>@<region>` when the file has prices for that region, else the list itself."""
        regional = f"{list_name}@{region}"
        return regional if region and regional in self.data["lists"] else list_name

    def price(self, list_name: str, item: str, region: str | None = None) -> Price | None:
        name = self.list_for(list_name, region)
        entry = self.data["lists"].get(name)
        if entry is None or item not in entry["items"]:
            return None
        currency = self._currency_of(entry)
        amount = float(entry["items"][item])
        return Price(name, item, amount, currency, entry["unit"], entry["region"], entry["source"], str(entry["as_of"]), self.convert(amount, currency, "USD"))

    def token_price(self, list_name: str, model: str, currency: str = "USD") -> tuple[float, float, Mapping[str, Any]] | None:
        """Price per 1M input and output tokens, in `currency`."""
        entry = self.data["tokens"].get(list_name)
        if entry is None or model not in entry["items"]:
            return None
        item = entry["items"][model]
        source = self._currency_of(entry)
        return self.convert(float(item["input"]), source, currency), self.convert(float(item["output"]), source, currency), entry

    def rate(self, currency: str) -> float:
        if currency not in self.rates:
            raise CostInputError(f"no exchange rate for {currency} in components/fx.py; add it to RATES (units per USD, with its source and date)")
        return self.rates[currency]

    def convert(self, amount: float, source: str, target: str) -> float:
        return amount if source == target else amount / self.rate(source) * self.rate(target)

    def to_currency(self, usd: float, currency: str) -> float:
        return self.convert(usd, "USD", currency)


@cache
def price_book(path: Path = PRICES_FILE) -> PriceBook:
    try:
        return PriceBook(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise CostInputError(f"cannot read the price data {path}: {exc}") from None


# ------------------------------------------------------------------------------ estimate


@dataclass
class Line:
    resource: str  # logical name
    type: str
    what: str
    quantity: float
    unit: str
    unit_price: float  # in the estimate's currency
    monthly: float  # in the estimate's currency
    price_ref: str  # <list>/<item> in the price file
    note: str = ""
    list_currency: str = ""  # the currency the price file lists it in (converted when it differs)


@dataclass
class Unpriced:
    resource: str
    type: str
    reason: str


@dataclass
class Estimate:
    stack: str
    region: str
    lines: list[Line] = field(default_factory=list)
    unpriced: list[Unpriced] = field(default_factory=list)
    no_charge: int = 0
    assumptions: list[str] = field(default_factory=list)
    budget_amount: float | None = None
    # The stack's budget currency (the price file's when the stack has no budget): every line and
    # the total are in it.
    currency: str = "USD"
    tokens_per_month: float = 0.0

    @property
    def budget_currency(self) -> str:
        return self.currency

    @property
    def total(self) -> float:
        return sum(line.monthly for line in self.lines)

    def total_in_budget_currency(self, book: PriceBook) -> float:
        return self.total

    def over_budget(self, book: PriceBook) -> bool:
        return self.budget_amount is not None and self.total > self.budget_amount

    def to_json(self, book: PriceBook) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "region": self.region,
            "currency": self.currency,
            "lines": [asdict(line) for line in self.lines],
            "unpriced": [asdict(u) for u in self.unpriced],
            "no_charge_resources": self.no_charge,
            "assumptions": self.assumptions,
            "tokens_per_month": self.tokens_per_month,
            "total": round(self.total, 2),
            "budget": None
            if self.budget_amount is None
            else {"amount": self.budget_amount, "currency": self.budget_currency, "estimate_in_budget_currency": round(self.total_in_budget_currency(book), 2), "over": self.over_budget(book)},
        }


def _config(graph: Mapping[str, Any], key: str) -> Any:
    return (graph.get("config") or {}).get(f"llm-platform:{key}")


def _graph_number(value: Any, key: str) -> float:
    """A number from a recorded graph's config: JSON numbers only (not true, not "2B")."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise CostInputError(f"config {key} in the graph must be a finite number, zero or more, as `plan --json` records it")
    return float(value)


def estimate(graph: Mapping[str, Any], tokens_per_month: float | None = None, book: PriceBook | None = None) -> Estimate:
    book = book or price_book()
    config = graph.get("config") or {}
    region = str(config.get("aws:region") or config.get("azure-native:location") or "")
    est = Estimate(str(graph.get("stack", "")), region, currency=book.currency)
    budget = _config(graph, "budget") or {}
    if isinstance(budget, dict):
        est.currency = str(budget.get("currency") or book.currency)
        book.rate(est.currency)  # a currency without a rate is an input error, before any line
        if "amount" in budget:
            est.budget_amount = _graph_number(budget["amount"], "llm-platform:budget.amount")
    if tokens_per_month is None:
        tokens_per_month = _graph_number(budget.get("expectedTokensPerMonth") or 0, "llm-platform:budget.expectedTokensPerMonth") if isinstance(budget, dict) else 0.0
    if not math.isfinite(tokens_per_month) or tokens_per_month < 0:
        raise CostInputError(f"--tokens-per-month must be a finite number, zero or more, not {tokens_per_month}")
    est.tokens_per_month = tokens_per_month
    hours = book.hours_per_month
    est.assumptions.append(f"{hours:g} hours per month; on-demand list prices")

    resources = [r for r in graph["resources"] if r.get("custom", True) and not r["type"].startswith("pulumi:providers:")]
    by_urn = {r["urn"]: r for r in graph["resources"]}
    priced_regions: set[str] = set()
    for res in resources:
        handled = False
        for line in _price(res, by_urn, graph, book, est):
            est.lines.append(line)
            handled = True
        if handled:
            continue
        token = res["type"]
        usage = book.data.get("usage_based", {}).get(token)
        if usage:
            est.unpriced.append(Unpriced(_name(res), token, f"usage-based ({usage}): not estimated"))
        elif any(token.startswith(p) for p in book.data["no_charge"]["prefixes"]):
            est.no_charge += 1
        elif token not in _HANDLED:
            est.unpriced.append(Unpriced(_name(res), token, "no price for this resource type in scripts/data/prices.yaml"))
    converted: set[str] = set()
    for line in est.lines:
        ref_list = line.price_ref.split("/", 1)[0]
        entry = book.data["lists"].get(ref_list) or book.data["tokens"].get(ref_list) or {}
        if entry.get("region"):
            priced_regions.add(str(entry["region"]).split(" ")[0])
        if line.list_currency and line.list_currency != est.currency:
            converted.add(line.list_currency)
    if region and priced_regions and region not in priced_regions:
        local = " (AWS China and Azure China are billed in CNY by their local operators at their own list prices)" if region.startswith(("cn-", "china")) else ""
        est.assumptions.append(f"prices are {', '.join(sorted(priced_regions))} list prices; the stack is in {region}, where they may differ{local}")
    for currency in sorted(converted):
        rate = RATES[est.currency if currency == "USD" else currency]
        est.assumptions.append(
            f"{currency} prices converted to {est.currency} at {book.convert(1, currency, est.currency):.4g} {est.currency}/{currency} ({rate.source}, {rate.as_of})"
        )
    _token_lines(graph, book, est)
    return est


def _name(res: Mapping[str, Any]) -> str:
    return str(res["urn"]).rsplit("::", 1)[-1]


def _num(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _line(res: Mapping[str, Any], book: PriceBook, est: Estimate, list_name: str, item: str, quantity: float, what: str, note: str = "") -> Line | None:
    """Quantity x the list price for the stack's region, in the estimate's currency."""
    price = book.price(list_name, item, est.region)
    if price is None:
        return None
    unit_price = book.convert(price.amount, price.currency, est.currency)
    return Line(_name(res), res["type"], what, round(quantity, 4), price.unit, round(unit_price, 8), round(quantity * unit_price, 2), f"{price.list_name}/{item}", note, price.currency)


_HANDLED: set[str] = set()
_HANDLERS: dict[str, Any] = {}
NO_CHARGE = "no-charge"  # a handler's answer for a variant that costs nothing (gateway endpoints)


def _handles(*tokens: str) -> Any:
    def register(fn: Any) -> Any:
        for token in tokens:
            _HANDLERS[token] = fn
            _HANDLED.add(token)
        return fn

    return register


def _price(res: Mapping[str, Any], by_urn: Mapping[str, Any], graph: Mapping[str, Any], book: PriceBook, est: Estimate) -> Iterator[Line]:
    handler = _HANDLERS.get(res["type"])
    if handler is None:
        return
    produced = False
    for line in handler(res, by_urn, graph, book, est):
        if line is None:
            continue
        produced = True
        if line == NO_CHARGE:
            est.no_charge += 1
            continue
        yield line
    if not produced:
        est.unpriced.append(Unpriced(_name(res), res["type"], _missing_reason(res)))


def _missing_reason(res: Mapping[str, Any]) -> str:
    inputs = res.get("inputs") or {}
    variants = inputs.get("productionVariants") or [{}]  # SageMaker endpoint configurations
    size = (
        inputs.get("instanceClass")
        or inputs.get("nodeType")
        or (inputs.get("instanceTypes") or [None])[0]
        or (inputs.get("sku") or {}).get("name")
        or inputs.get("vmSize")
        or variants[0].get("instanceType")
    )
    return f"no price for '{size}' in scripts/data/prices.yaml" if size else "no price in scripts/data/prices.yaml"


@_handles("aws:ecs/service:Service")
def _fargate(res: Mapping[str, Any], by_urn: Mapping[str, Any], graph: Mapping[str, Any], book: PriceBook, est: Estimate) -> Iterator[Line | str | None]:
    task = next((by_urn[d] for d in res.get("dependencies") or [] if d in by_urn and by_urn[d]["type"] == "aws:ecs/taskDefinition:TaskDefinition"), None)
    if task is None:
        return
    count = _num(res["inputs"].get("desiredCount"), 1.0)
    cpu, memory = _num(task["inputs"].get("cpu")) / 1024, _num(task["inputs"].get("memory")) / 1024
    hours = book.hours_per_month
    yield _line(res, book, est, "aws-fargate", "vcpu-hour", cpu * count * hours, f"Fargate {cpu:g} vCPU x {count:g} task(s)")
    yield _line(res, book, est, "aws-fargate", "gb-hour", memory * count * hours, f"Fargate {memory:g} GB x {count:g} task(s)")


@_handles("aws:lb/loadBalancer:LoadBalancer")
def _alb(res: Mapping[str, Any], by_urn: Mapping[str, Any], graph: Mapping[str, Any], book: PriceBook, est: Estimate) -> Iterator[Line | str | None]:
    hours = book.hours_per_month
    yield _line(res, book, est, "aws-elb", "alb-hour", hours, "Application Load Balancer")
    yield _line(res, book, est, "aws-elb", "alb-lcu-hour", hours, "1 LCU on average (assumption)", "traffic-dependent")


@_handles("aws:ec2/natGateway:NatGateway")
def _nat(res: Mapping[str, Any], by_urn: Mapping[str, Any], graph: Mapping[str, Any], book: PriceBook, est: Estimate) -> Iterator[Line | str | None]:
    yield _line(res, book, est, "aws-vpc", "nat-gateway-hour", book.hours_per_month, "NAT gateway (data processing per GB not included)")


@_handles("aws:ec2/vpcEndpoint:VpcEndpoint")
def _endpoint(res: Mapping[str, Any], by_urn: Mapping[str, Any], graph: Mapping[str, Any], book: PriceBook, est: Estimate) -> Iterator[Line | str | None]:
    inputs = res["inputs"]
    if inputs.get("vpcEndpointType", "Gateway") != "Interface":
        yield NO_CHARGE  # gateway endpoints (S3, DynamoDB) are free
        return
    zones = len(inputs.get("subnetIds") or []) or 1
    yield _line(res, book, est, "aws-vpc", "interface-endpoint-az-hour", zones * book.hours_per_month, f"interface endpoint in {zones} AZ(s)")


@_handles("aws:rds/instance:Instance")
def _rds(res: Mapping[str, Any], by_urn: Mapping[str, Any], graph: Mapping[str, Any], book: PriceBook, est: Estimate) -> Iterator[Line | str | None]:
    inputs = res["inputs"]
    copies = 2 if inputs.get("multiAz") else 1
    label = " Multi-AZ" if copies == 2 else ""
    instance = _line(res, book, est, "aws-rds", str(inputs.get("instanceClass")), copies * book.hours_per_month, f"RDS PostgreSQL {inputs.get('instanceClass')}{label}")
    if instance is None:
        return
    yield instance
    yield _line(res, book, est, "aws-rds", "storage-gp3-gb-month", copies * _num(inputs.get("allocatedStorage")), f"{_num(inputs.get('allocatedStorage')):g} GB storage{label}")


@_handles("aws:rds/clusterInstance:ClusterInstance")
def _aurora(res: Mapping[str, Any], by_urn: Mapping[str, Any], graph: Mapping[str, Any], book: PriceBook, est: Estimate) -> Iterator[Line | str | None]:
    cluster = next((by_urn[d] for d in res.get("dependencies") or [] if d in by_urn and by_urn[d]["type"] == "aws:rds/cluster:Cluster"), None)
    scaling = ((cluster or {}).get("inputs") or {}).get("serverlessv2ScalingConfiguration") or {}
    acu = _num(scaling.get("minCapacity"), 0.5)
    yield _line(res, book, est, "aws-aurora", "acu-hour", acu * book.hours_per_month, f"Aurora Serverless v2 at its minimum {acu:g} ACU", "scales up with load")


_HANDLED.add("aws:rds/cluster:Cluster")  # priced through its instances


@_handles("aws:elasticache/replicationGroup:ReplicationGroup")
def _cache(res: Mapping[str, Any], by_urn: Mapping[str, Any], graph: Mapping[str, Any], book: PriceBook, est: Estimate) -> Iterator[Line | str | None]:
    inputs = res["inputs"]
    nodes = _num(inputs.get("numCacheClusters"), 1.0)
    yield _line(res, book, est, "aws-elasticache", str(inputs.get("nodeType")), nodes * book.hours_per_month, f"ElastiCache {inputs.get('nodeType')} x {nodes:g}")


@_handles("aws:opensearch/serverlessCollection:ServerlessCollection")
def _aoss(res: Mapping[str, Any], by_urn: Mapping[str, Any], graph: Mapping[str, Any], book: PriceBook, est: Estimate) -> Iterator[Line | str | None]:
    standby = res["inputs"].get("standbyReplicas", "ENABLED") == "ENABLED"
    ocus = 4 if standby else 2
    yield _line(
        res, book, est, "aws-opensearch-serverless", "ocu-hour", ocus * book.hours_per_month, f"OpenSearch Serverless minimum {ocus} OCU (standby replicas {'on' if standby else 'off'})", "shared by collections with the same key"
    )


@_handles("aws:eks/cluster:Cluster")
def _eks(res: Mapping[str, Any], by_urn: Mapping[str, Any], graph: Mapping[str, Any], book: PriceBook, est: Estimate) -> Iterator[Line | str | None]:
    yield _line(res, book, est, "aws-eks", "cluster", book.hours_per_month, "EKS control plane")


@_handles("aws:kms/key:Key")
def _kms(res: Mapping[str, Any], by_urn: Mapping[str, Any], graph: Mapping[str, Any], book: PriceBook, est: Estimate) -> Iterator[Line | str | None]:
    yield _line(res, book, est, "aws-small", "kms-key-month", 1, "customer-managed KMS key")


@_handles("aws:secretsmanager/secret:Secret")
def _secret(res: Mapping[str, Any], by_urn: Mapping[str, Any], graph: Mapping[str, Any], book: PriceBook, est: Estimate) -> Iterator[Line | str | None]:
    yield _line(res, book, est, "aws-small", "secret-month", 1, "Secrets Manager secret")


@_handles("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
def _sagemaker_endpoint(res: Mapping[str, Any], by_urn: Mapping[str, Any], graph: Mapping[str, Any], book: PriceBook, est: Estimate) -> Iterator[Line | str | None]:
    for variant in res["inputs"].get("productionVariants") or []:
        count = _num(variant.get("initialInstanceCount"), 1)
        yield _line(res, book, est, "aws-sagemaker-hosting", str(variant.get("instanceType")), count * book.hours_per_month, f"SageMaker real-time {count:g} x {variant.get('instanceType')}")


_HANDLED.update({"aws:sagemaker/model:Model", "aws:sagemaker/endpoint:Endpoint"})  # priced through the endpoint configuration


@_handles("aws:cloudwatch/metricAlarm:MetricAlarm")
def _alarm(res: Mapping[str, Any], by_urn: Mapping[str, Any], graph: Mapping[str, Any], book: PriceBook, est: Estimate) -> Iterator[Line | str | None]:
    yield _line(res, book, est, "aws-small", "alarm-month", 1, "CloudWatch alarm")


def _gpu_nodes(graph: Mapping[str, Any], pool: str, instance_type: str, min_size: float, max_size: float, est: Estimate) -> float:
    """Nodes a GPU pool runs for the models' minimum replicas, within the pool's bounds."""
    from components.k8s.gpu import instance_of

    scale = _config(graph, "scale") or {}
    shape = instance_of(instance_type)
    models = [m for m in scale.get("models", []) if m.get("pool") == pool]
    gpus = sum(_num(m.get("gpusPerReplica"), 1) * _num(m.get("minReplicas"), 1) for m in models)
    needed = math.ceil(gpus / shape.gpus) if shape else min_size
    nodes = min(max(needed, min_size), max_size)
    replicas = ", ".join(f"{m['name']} {_num(m.get('minReplicas'), 1):g}-{_num(m.get('maxReplicas'), 1):g} replicas" for m in models) or "no models"
    est.assumptions.append(
        f"GPU pool '{pool}': {nodes:g} x {instance_type} for the models' minimum replicas ({replicas}; pool min {min_size:g}, max {max_size:g}); "
        f"at max size it would cost {max_size:g} x the node line"
    )
    return nodes


@_handles("aws:eks/nodeGroup:NodeGroup")
def _node_group(res: Mapping[str, Any], by_urn: Mapping[str, Any], graph: Mapping[str, Any], book: PriceBook, est: Estimate) -> Iterator[Line | str | None]:
    inputs = res["inputs"]
    instance_type = (inputs.get("instanceTypes") or [""])[0]
    scaling = inputs.get("scalingConfig") or {}
    min_size, max_size = _num(scaling.get("minSize")), _num(scaling.get("maxSize"))
    gpu = "accelerator" in (inputs.get("labels") or {})
    nodes = _gpu_nodes(graph, str((inputs.get("labels") or {}).get("llm-platform.io/pool", inputs.get("nodeGroupName"))), instance_type, min_size, max_size, est) if gpu else _num(scaling.get("desiredSize"), min_size)
    spot = inputs.get("capacityType") == "SPOT"
    line = _line(res, book, est, "aws-ec2", instance_type, nodes * book.hours_per_month, f"{nodes:g} x {instance_type}", "spot capacity: on-demand price shown, usually far lower" if spot else "")
    if line is None:
        return
    yield line
    template = next((by_urn[d] for d in res.get("dependencies") or [] if d in by_urn and by_urn[d]["type"] == "aws:ec2/launchTemplate:LaunchTemplate"), None)
    for mapping in ((template or {}).get("inputs") or {}).get("blockDeviceMappings") or []:
        size = _num((mapping.get("ebs") or {}).get("volumeSize"))
        if size:
            yield _line(res, book, est, "aws-ebs", "gp3", size * nodes, f"{size:g} GB gp3 root volume x {nodes:g}")


@_handles("azure-native:app:ContainerApp")
def _container_app(res: Mapping[str, Any], by_urn: Mapping[str, Any], graph: Mapping[str, Any], book: PriceBook, est: Estimate) -> Iterator[Line | str | None]:
    template = res["inputs"].get("template") or {}
    replicas = _num((template.get("scale") or {}).get("minReplicas"), 1)
    cpu = sum(_num((c.get("resources") or {}).get("cpu")) for c in template.get("containers") or [])
    memory = sum(_num(str((c.get("resources") or {}).get("memory", "0")).removesuffix("Gi")) for c in template.get("containers") or [])
    seconds = book.hours_per_month * 3600
    note = "always-on replicas at the active rate"
    yield _line(res, book, est, "azure-container-apps", "vcpu-second", cpu * replicas * seconds, f"{cpu:g} vCPU x {replicas:g} replica(s)", note)
    yield _line(res, book, est, "azure-container-apps", "gib-second", memory * replicas * seconds, f"{memory:g} GiB x {replicas:g} replica(s)", note)


@_handles("azure-native:containerservice:ManagedCluster")
def _aks(res: Mapping[str, Any], by_urn: Mapping[str, Any], graph: Mapping[str, Any], book: PriceBook, est: Estimate) -> Iterator[Line | str | None]:
    inputs = res["inputs"]
    tier = (inputs.get("sku") or {}).get("tier", "Free")
    yield _line(res, book, est, "azure-aks", str(tier), book.hours_per_month, f"AKS {tier} tier control plane")
    for pool in inputs.get("agentPoolProfiles") or []:
        count = _num(pool.get("count") or pool.get("minCount"), 1)
        yield _line(res, book, est, "azure-vm", str(pool.get("vmSize")), count * book.hours_per_month, f"system pool {count:g} x {pool.get('vmSize')}")


@_handles("azure-native:containerservice:AgentPool")
def _agent_pool(res: Mapping[str, Any], by_urn: Mapping[str, Any], graph: Mapping[str, Any], book: PriceBook, est: Estimate) -> Iterator[Line | str | None]:
    inputs = res["inputs"]
    vm = str(inputs.get("vmSize"))
    gpu = "accelerator" in (inputs.get("nodeLabels") or {})
    min_size, max_size = _num(inputs.get("minCount")), _num(inputs.get("maxCount"))
    nodes = _gpu_nodes(graph, str(inputs.get("agentPoolName")), vm, min_size, max_size, est) if gpu else _num(inputs.get("count"), min_size)
    yield _line(res, book, est, "azure-vm", vm, nodes * book.hours_per_month, f"{nodes:g} x {vm}")


@_handles("azure-native:dbforpostgresql:Server")
def _flexible(res: Mapping[str, Any], by_urn: Mapping[str, Any], graph: Mapping[str, Any], book: PriceBook, est: Estimate) -> Iterator[Line | str | None]:
    inputs = res["inputs"]
    sku = str((inputs.get("sku") or {}).get("name"))
    copies = 1 if (inputs.get("highAvailability") or {}).get("mode", "Disabled") == "Disabled" else 2
    server = _line(res, book, est, "azure-postgres", sku, copies * book.hours_per_month, f"PostgreSQL Flexible {sku}{' + HA standby' if copies == 2 else ''}")
    if server is None:
        return
    yield server
    storage = _num((inputs.get("storage") or {}).get("storageSizeGB"))
    yield _line(res, book, est, "azure-postgres", "storage-gb-month", storage * copies, f"{storage:g} GB storage")


@_handles("azure-native:search:Service")
def _search(res: Mapping[str, Any], by_urn: Mapping[str, Any], graph: Mapping[str, Any], book: PriceBook, est: Estimate) -> Iterator[Line | str | None]:
    inputs = res["inputs"]
    sku = str((inputs.get("sku") or {}).get("name"))
    units = _num(inputs.get("replicaCount"), 1) * _num(inputs.get("partitionCount"), 1)
    yield _line(res, book, est, "azure-search", sku, units, f"AI Search {sku} x {units:g} search unit(s)")


@_handles("azure-native:network:PrivateEndpoint")
def _private_endpoint(res: Mapping[str, Any], by_urn: Mapping[str, Any], graph: Mapping[str, Any], book: PriceBook, est: Estimate) -> Iterator[Line | str | None]:
    yield _line(res, book, est, "azure-network", "private-endpoint-hour", book.hours_per_month, "private endpoint (data processed not included)")


@_handles("azure-native:privatedns:PrivateZone")
def _private_zone(res: Mapping[str, Any], by_urn: Mapping[str, Any], graph: Mapping[str, Any], book: PriceBook, est: Estimate) -> Iterator[Line | str | None]:
    yield _line(res, book, est, "azure-network", "private-dns-zone-month", 1, "private DNS zone")


# ------------------------------------------------------------------------------ tokens


def _token_lines(graph: Mapping[str, Any], book: PriceBook, est: Estimate) -> None:
    """The expected traffic, half input and half output tokens (the seed report's assumption),
    priced at the stack's first model: self-hosted capacity first in Scale, then its first
    fallback; the first managed model in Beta; the first provider's default model in PoC."""
    tokens = est.tokens_per_month
    if not tokens:
        est.assumptions.append("no expected traffic: set llm-platform:budget.expectedTokensPerMonth or --tokens-per-month to price tokens")
        return
    est.assumptions.append(f"{tokens:,.0f} tokens per month, half input and half output")
    phase = _config(graph, "phase")
    remaining = tokens
    if phase == "scale":
        capacity = self_hosted_capacity(graph, book, est.assumptions)
        served = min(tokens, capacity)
        remaining = tokens - served
        utilisation = float(book.data["self_hosting"]["utilisation"])
        est.assumptions.append(
            f"self-hosted capacity at minimum replicas: {capacity:,.0f} tokens per month at {utilisation:.0%} utilisation (throughput per replica from the model and GPU, "
            f"components/k8s/model_fit.py); {served:,.0f} served there (no per-token cost)"
        )
        if not remaining:
            return
    model = reference_model(graph)
    if model is None:
        est.unpriced.append(Unpriced("expected traffic", "tokens", "the stack names no model to price tokens with"))
        return
    list_name, name = model
    found = book.token_price(list_name, name, est.currency)
    if found is None:
        est.unpriced.append(Unpriced("expected traffic", "tokens", f"no token price for '{name}' in scripts/data/prices.yaml ({list_name})"))
        return
    input_price, output_price, entry = found
    blended = (input_price + output_price) / 2
    millions = remaining / 1_000_000
    est.lines.append(
        Line(
            "expected traffic",
            "tokens",
            f"{name} ({list_name})",
            round(millions, 4),
            "1M tokens (50/50 in/out)",
            round(blended, 8),
            round(millions * blended, 2),
            f"{list_name}/{name}",
            list_currency=str(entry.get("currency") or book.currency),
        )
    )


def reference_model(graph: Mapping[str, Any]) -> tuple[str, str] | None:
    phase, cloud = _config(graph, "phase"), _config(graph, "cloud")
    beta = _config(graph, "beta") or {}
    if phase == "scale":
        for route in (_config(graph, "scale") or {}).get("routes", []):
            for ref in route.get("fallbacks", []):
                kind, _, target = str(ref).partition(":")
                if kind == "api":
                    return "report-api", target
                if kind == "bedrock":
                    model = next((m["model"] for m in (beta.get("bedrock") or {}).get("models", []) if m["name"] == target), None)
                    return ("bedrock", model) if model else None
                if kind == "azure":
                    model = next((d["model"] for d in (beta.get("azureOpenAI") or {}).get("deployments", []) if d["name"] == target), None)
                    return ("azure-openai", model) if model else None
        return None
    if phase == "beta":
        if cloud == "aws" and beta.get("bedrock"):
            return "bedrock", beta["bedrock"]["models"][0]["model"]
        if cloud == "azure" and beta.get("azureOpenAI"):
            return "azure-openai", beta["azureOpenAI"]["deployments"][0]["model"]
    providers = (_config(graph, "poc") or {}).get("apiProviders") or []
    if providers:
        default = price_book().data["tokens"]["provider-default"].get(providers[0])
        return ("report-api", default) if default else None
    return None


def self_hosted_capacity(graph: Mapping[str, Any], book: PriceBook, assumptions: list[str] | None = None) -> float:
    """Tokens per month the models' minimum replicas serve at the modelled throughput and the
    assumed utilisation (a model whose throughput cannot be modelled counts as zero, said so)."""
    scale = _config(graph, "scale") or {}
    pools = {p["name"]: p for p in scale.get("gpuPools", [])}
    seconds = book.hours_per_month * 3600 * float(book.data["self_hosting"]["utilisation"])
    total = 0.0
    # Only models a route serves take traffic: a guard model (scale.contentFilter) or one no route
    # names costs its GPUs but answers no tokens.
    routed = {name for route in scale.get("routes", []) for name in route.get("selfHosted") or []}
    for model in scale.get("models", []):
        if model.get("name") not in routed:
            if assumptions is not None:
                assumptions.append(f"model '{model.get('name')}': served by no route (e.g. the content filter's guard): no tokens counted")
            continue
        instance_type = str(pools.get(model.get("pool"), {}).get("instanceType", ""))
        throughput = replica_throughput_of(model, instance_type, book)
        if throughput is None:
            if assumptions is not None:
                assumptions.append(f"model '{model.get('name')}': no throughput model for {model.get('huggingFaceId')} on {instance_type or 'its pool'}: counted as 0 tokens")
            continue
        if assumptions is not None:
            assumptions.append(f"model '{model.get('name')}' per replica: {throughput.mixed_tokens_s:,.0f} tokens/s for 50/50 traffic; {throughput.basis}")
        total += throughput.mixed_tokens_s * _num(model.get("minReplicas"), 1)
    return total * seconds


def replica_throughput_of(model: Mapping[str, Any], instance_type: str, book: PriceBook) -> Any:
    """Tokens per second one replica of a configured model delivers on its pool's instance type
    (components.k8s.model_fit.Throughput), or None when the model or the GPU is unknown."""
    from pydantic import ValidationError

    from components.k8s.gpu import chip_of
    from components.k8s.model_fit import check_fit, replica_throughput
    from stacks.config import ServedModelConfig, model_serving

    try:
        served = ServedModelConfig.model_validate(dict(model))
    except ValidationError:
        return None
    choice = model_serving(served, instance_type)
    chip = chip_of(instance_type)
    if choice is None or chip is None:
        return None
    figures = book.data["self_hosting"]
    return replica_throughput(
        check_fit(choice),
        chip.bandwidth_gb_s,
        chip.tflops,
        bandwidth_efficiency=float(figures["bandwidth_efficiency"]),
        compute_efficiency=float(figures["compute_efficiency"]),
        mean_context=int(figures["mean_context_tokens"]),
        max_batch=int(figures["max_batch"]),
    )


# ------------------------------------------------------------------------------ output


def render(est: Estimate, book: PriceBook) -> str:
    lines = [f"Monthly estimate of stack '{est.stack}' ({est.region}), {est.currency}"]
    width = max([len(f"{item.resource}: {item.what}") for item in est.lines] + [20])
    lines.append(f"  {'resource: item':<{width}} {'quantity':>14} {'unit price':>12} {'monthly':>11}")
    for line in sorted(est.lines, key=lambda item: -item.monthly):
        lines.append(f"  {f'{line.resource}: {line.what}':<{width}} {line.quantity:>14,.2f} {line.unit_price:>12,.6g} {line.monthly:>11,.2f}" + (f"  ({line.note})" if line.note else ""))
    lines.append(f"  {'TOTAL':<{width}} {'':>14} {'':>12} {est.total:>11,.2f}")
    if est.budget_amount is not None:
        verdict = "OVER BUDGET" if est.over_budget(book) else "within budget"
        lines.append(f"  budget {est.budget_amount:,.2f} {est.currency}; estimate {est.total:,.2f} {est.currency}: {verdict}")
    if est.unpriced:
        lines.append(f"\nUnpriced ({len(est.unpriced)}), not in the total:")
        lines += [f"  {u.resource} ({u.type}): {u.reason}" for u in est.unpriced]
    lines.append(f"\nNo charge by themselves: {est.no_charge} resources (IAM, network configuration, Kubernetes objects, ...)")
    lines.append("Assumptions:")
    lines += [f"  - {a}" for a in dict.fromkeys(est.assumptions)]
    return "\n".join(lines)
