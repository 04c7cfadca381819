#!/usr/bin/env bash
# Logs Helm in to an Azure Container Registry chart mirror (llm-platform:mirrors.helmRepository of
# stack $STACK) and points the Kubernetes provider at that registry config. An ECR chart mirror is
# logged in by the program itself (components/aws/registry.py); an ACR only takes an Entra token
# that the Azure CLI exchanges (az acr login --expose-token, user 00000000-0000-0000-0000-000000000000,
# valid 3 hours; learn.microsoft.com/azure/container-registry/container-registry-helm-repos, read
# 2026-11-30). The provider reads PULUMI_K8S_HELM_REGISTRY_CONFIG_PATH
# (pulumi/pulumi-kubernetes provider/pkg/provider/provider.go). Used by the deploy action and the
# preview workflow; the identity running it needs AcrPull on the registry.
set -euo pipefail
repository=$(.venv/bin/python -c 'import sys, yaml; c = yaml.safe_load(open(sys.argv[1]))["config"]; print((c.get("llm-platform:mirrors") or {}).get("helmRepository") or "")' "stacks/Pulumi.$STACK.yaml")
host=${repository#oci://}
host=${host%%/*}
case "$host" in
  *.azurecr.io|*.azurecr.cn|*.azurecr.us) ;;
  *) exit 0 ;;
esac
command -v helm >/dev/null || { echo "::error::helm is not installed on this runner; it logs in to the chart mirror $host"; exit 1; }
token=$(az acr login --name "${host%%.*}" --expose-token --output tsv --query accessToken)
echo "::add-mask::$token"
config="$RUNNER_TEMP/helm-registry-config.json"
helm registry login "$host" --registry-config "$config" --username 00000000-0000-0000-0000-000000000000 --password-stdin <<< "$token"
echo "PULUMI_K8S_HELM_REGISTRY_CONFIG_PATH=$config" >> "$GITHUB_ENV"
