"""Leviathan: typed cdk8s constructs that synthesize Helm charts for huge self-hosted LLM engines."""
