"""Azure combinations the platform refuses before any resource exists: each returns
(key suffix, value, message) triples that stacks/config turns into ConfigProblems."""

from __future__ import annotations

# Dify's vector stores (api/core/rag/datasource/vdb/vector_type.py, langgenius/dify) have no
# Azure AI Search backend; Flowise's Azure AI Search node takes an admin API key credential set
# in its UI. The search service here has key auth off (Entra only), so neither app can use it.
AI_SEARCH_REFUSAL = (
    "neither Dify (no Azure AI Search vector store) nor Flowise (its Azure AI Search node authenticates "
    "with an admin key, and the platform's search service accepts Entra tokens only) can use Azure AI Search; "
    "use postgres-pgvector"
)

# Azure Database for PostgreSQL, "Data encryption" (learn.microsoft.com/azure/postgresql/security/
# security-data-encryption, ms.date 06/02/2026): a geo-redundant backup of a CMK server needs its own
# key in a vault in the paired region and a second user-assigned identity there. Paired regions of
# several EU regions are restricted (swedensouth, germanynorth, francesouth) and take no new vaults.
GEO_BACKUP_REFUSAL = (
    "geo-redundant backup of a server encrypted with the platform's customer-managed key needs a second key "
    "vault, key and identity in the paired region, which this platform does not create; use disabled "
    "(or auto, which now means disabled)"
)


def vector_store_problems(engine: str, geo_redundant_backup: str) -> list[tuple[str, object, str]]:
    problems: list[tuple[str, object, str]] = []
    if engine == "ai-search":
        problems.append(("vectorStore.engine", engine, AI_SEARCH_REFUSAL))
    if geo_redundant_backup == "enabled":
        problems.append(("vectorStore.geoRedundantBackup", geo_redundant_backup, GEO_BACKUP_REFUSAL))
    return problems
