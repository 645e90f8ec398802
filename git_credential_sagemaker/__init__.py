"""git on SageMaker, safely: a credential helper, notebook hooks, and setup that survives restarts.

In a notebook cell: `from git_credential_sagemaker import login; login()`.
Kept import-light: git runs the helper on every push, so the notebook functions are
imported only when first used.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["load_ipython_extension", "login", "setup", "unlock"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from git_credential_sagemaker import notebook

        return getattr(notebook, name)
    raise AttributeError(name)
