"""Distributed indexing on Ray (the optional 'ray' extra); importing this package needs no Ray."""
