"""git on SageMaker, safely: a credential helper, notebook hooks, and setup that survives restarts.

Kept import-light: `git credential fill` runs the helper on every push, so nothing heavy is
imported until a command needs it.
"""
