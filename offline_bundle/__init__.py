"""The sealed offline bundle: build, verify, install (its issue comes after the end-to-end one).

Nothing here yet; `vigie bundle` commands will live on top of this package.
"""
