"""Composition roots, one module per program: each reads its flags and environment, wires the pieces
together and runs them (`dataplane queue-proxy`, `activator`, `autoscaler`, `controller`, `up`, and
``demo`` for `./dev.sh up`). Nothing imports these but the `dataplane` command's dispatcher, by name.
"""
