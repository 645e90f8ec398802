"""Notebook hooks for pre-commit: keep `.py` scripts in commits and notebooks in the work tree.

Installed as `git_credential_sagemaker.hooks`; each hook is a module with `main(argv) -> int`.
"""
