"""Role assignments: one built-in role, one principal, one scope. Nothing broader."""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure


def assign_role(
    name: str,
    *,
    subscription_id: str,
    role_id: str,
    principal_id: pulumi.Input[str],
    scope: pulumi.Input[str],
    parent: pulumi.Resource,
    description: str,
) -> azure.authorization.RoleAssignment:
    return azure.authorization.RoleAssignment(
        name,
        principal_id=principal_id,
        principal_type="ServicePrincipal",
        role_definition_id=f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role_id}",
        scope=scope,
        description=description,
        opts=pulumi.ResourceOptions(parent=parent),
    )
