"""Root test configuration."""

import os

# jsii 1.142 prints an end-of-life banner on Node 20 (the machine's Node) at every cdk8s import.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
