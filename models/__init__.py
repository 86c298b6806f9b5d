"""Hierarchical prior families: one module per family."""
