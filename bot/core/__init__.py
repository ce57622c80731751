"""Channel-agnostic conversation core: the same behaviour on every messenger."""
