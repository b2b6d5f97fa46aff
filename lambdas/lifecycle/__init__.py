"""The Bedrock customization job and inference capacity lifecycle: buy late, use briefly, delete on every path."""
