"""Lets `python -m git_credential_sagemaker` run the same CLI as the console script."""

from git_credential_sagemaker.cli import main

raise SystemExit(main())
