"""Where the tests find the project's data: the real focal stacks ship inside the package
(``focusd/bench/stacks``, see its README.md), so every clone and every installed copy has them."""

from pathlib import Path

import focusd.bench.stacks

#: the folder that holds one sub-folder per real focal stack
FOCALSTACKS = Path(focusd.bench.stacks.__file__).resolve().parent
