"""Kubernetes minor versions the managed platforms create and keep, one catalog shape for EKS and
AKS. Each platform upgrades a cluster by itself once its version leaves support, and a stack
still naming the old version would then try a downgrade on every `pulumi up` (and fail), so the
config check refuses a version past its end (or not yet generally available) and the plan warns
within WARNING_DAYS of the end. Pure data: the config check imports it for either cloud."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Final

WARNING_DAYS: Final = 90


@dataclass(frozen=True)
class MinorRelease:
    ga: date  # clusters can be created on it from this day
    end: date  # the platform no longer supports it from this day


@dataclass(frozen=True)
class VersionCatalog:
    platform: str  # "EKS" / "AKS"
    releases: Mapping[str, MinorRelease]
    support: str  # what `end` ends, in the platform's words
    after_end: str  # what the platform does to a cluster past `end`
    source: str
    read: date

    def supported(self, today: date) -> list[str]:
        return [v for v, r in self.releases.items() if r.ga <= today < r.end]

    def problem(self, version: str, today: date) -> str | None:
        """Why `version` cannot be deployed on this platform today, or None."""
        release = self.releases.get(version)
        choices = f"{', '.join(self.supported(today))} (source: {self.source}, read {self.read.isoformat()})"
        if release is None:
            if _minor(version) > max(_minor(v) for v in self.releases):
                return None  # newer than the catalog: warning() says so
            return f"is not a {self.platform} version in {self.support}; use one of {choices}"
        if today < release.ga:
            return f"is not generally available on {self.platform} before {release.ga.isoformat()}; use one of {choices}"
        if today >= release.end:
            return (
                f"left {self.platform} {self.support} on {release.end.isoformat()}: {self.after_end}, and a stack naming the old version "
                f"would then try to downgrade it; set the version the cluster runs now or a newer one: {choices}"
            )
        return None

    def warning(self, version: str, today: date, within_days: int = WARNING_DAYS) -> str | None:
        release = self.releases.get(version)
        if release is None:
            return f"{self.platform} version {version} is newer than the platform's version catalog: check that {self.platform} offers it and when its {self.support} ends ({self.source})"
        days = (release.end - today).days
        if 0 < days <= within_days:
            return (
                f"{self.platform} version {version} leaves {self.support} on {release.end.isoformat()} ({days} days): {self.after_end}; "
                f"upgrade first (set a newer llm-platform:scale.kubernetesVersion) so `pulumi up` does it with your node pools (source: {self.source})"
            )
        return None


def _minor(version: str) -> int:
    return int(version.split(".")[1])


# EKS: standard support lasts 14 months from the EKS release (the `ga` dates below are the end
# minus 14 months); at its end a cluster with upgrade policy STANDARD (ours: extended support
# costs $0.60 instead of $0.10 per cluster hour, aws.amazon.com/eks/pricing) is upgraded to the
# next version by EKS ("Manage EKS extended support", docs.aws.amazon.com/eks/latest/userguide/
# extended-support-control.html; CloudFormation AWS::EKS::Cluster UpgradePolicy). Dates: the EKS
# release calendar, as mirrored by endoflife-date/endoflife.date products/amazon-eks.md
# @a70eca337600e7d721dc48112c271f98661d208b ("End of standard support" column), read 2026-11-30.
EKS_VERSIONS: Final = VersionCatalog(
    platform="EKS",
    releases={
        "1.32": MinorRelease(ga=date(2025, 1, 23), end=date(2026, 3, 23)),
        "1.33": MinorRelease(ga=date(2025, 5, 29), end=date(2026, 7, 29)),
        "1.34": MinorRelease(ga=date(2025, 10, 2), end=date(2026, 12, 2)),
        "1.35": MinorRelease(ga=date(2026, 1, 27), end=date(2027, 3, 27)),
        "1.36": MinorRelease(ga=date(2026, 6, 2), end=date(2027, 8, 2)),
    },
    support="standard support",
    after_end="EKS then upgrades the control plane to the next version by itself (upgrade policy STANDARD)",
    source="https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html#kubernetes-release-calendar",
    read=date(2026, 11, 30),
)

# AKS: the release calendar's "AKS GA" and "End of life" columns ("Unless an explicit date is
# provided, the End of Life (EOL) date is the last day of the specified month"); past its end of
# life a version is N-3 (platform support), where "the creation of new clusters isn't possible",
# and AKS "automatically upgrades clusters in version N-3 ... that are about to fall to N-4,
# upgrading them to N-2" (MicrosoftDocs/azure-aks-docs articles/aks/supported-kubernetes-versions.md
# ms.date 08/05/2026 and auto-upgrade-cluster.md @fb060abe6a8fef960d4c487b543bf7b1e97808fe, read
# 2026-11-30). GA days from the AKS release notes the calendar links (Azure/AKS releases, as
# listed in endoflife-date/endoflife.date products/azure-kubernetes-service.md @a70eca3); 1.37 is
# the calendar's planned GA month, taken at its last day. LTS dates do not apply: LTS needs the
# Premium tier and the cluster runs Standard (components/azure/aks.py).
AKS_VERSIONS: Final = VersionCatalog(
    platform="AKS",
    releases={
        "1.33": MinorRelease(ga=date(2025, 6, 17), end=date(2026, 7, 31)),
        "1.34": MinorRelease(ga=date(2026, 1, 4), end=date(2026, 11, 30)),
        "1.35": MinorRelease(ga=date(2026, 3, 5), end=date(2027, 3, 31)),
        "1.36": MinorRelease(ga=date(2026, 6, 30), end=date(2027, 6, 30)),
        "1.37": MinorRelease(ga=date(2026, 10, 31), end=date(2027, 10, 31)),
    },
    support="support (end of life)",
    after_end="AKS no longer creates clusters on it and later upgrades existing ones by itself (N-3 to N-2)",
    source="https://learn.microsoft.com/azure/aks/supported-kubernetes-versions#aks-kubernetes-release-calendar",
    read=date(2026, 11, 30),
)

KUBERNETES_VERSIONS: Final[Mapping[str, VersionCatalog]] = {"aws": EKS_VERSIONS, "azure": AKS_VERSIONS}
