"""Lets `python -m git_credential_sagemaker` run the same program as the console script."""

from git_credential_sagemaker.cli import program

raise SystemExit(program())
