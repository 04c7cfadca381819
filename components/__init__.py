"""Pulumi ComponentResources for the LLM platform: aws/, azure/, k8s/ and shared helpers."""
