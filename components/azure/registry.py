"""An Azure Container Registry mirror (llm-platform:mirrors.imageRegistry on <name>.azurecr.io /
.azurecr.cn) is private: every identity that pulls from it gets AcrPull on that registry, and
nothing more. The registry is the organisation's (mirrors.azureRegistryId), not the stack's."""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure

from components.azure.roles import assign_role

# AcrPull: pull images and OCI artifacts (learn.microsoft.com/azure/role-based-access-control/
# built-in-roles/containers#acrpull, read 2026-11-30; the same id in Azure China).
ROLE_ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"


def registry_subscription(registry_id: str) -> str:
    """/subscriptions/<id>/resourceGroups/... -> <id>: the role definition is named in the
    registry's subscription (it may not be the stack's)."""
    return registry_id.split("/")[2]


def grant_acr_pull(name: str, *, registry_id: str, principal_id: pulumi.Input[str], parent: pulumi.Resource, puller: str) -> azure.authorization.RoleAssignment:
    return assign_role(
        name,
        subscription_id=registry_subscription(registry_id),
        role_id=ROLE_ACR_PULL,
        principal_id=principal_id,
        scope=registry_id,
        parent=parent,
        description=f"{puller} pulls its images from the registry mirror",
    )
