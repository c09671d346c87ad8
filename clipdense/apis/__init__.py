"""High-level entry points used by the tools."""
