"""The local Amazon Bedrock emulator (control plane and Converse), reached through standard endpoint variables."""
