"""Leviathan end-to-end test harness: cluster backends, image assembly, fake GPUs."""
