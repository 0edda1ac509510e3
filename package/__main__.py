"""The calico-monitoring component package's plugin: `pulumi-resource-calico-monitoring` runs this.

component_provider_host serves only Construct; this serves the same ComponentProvider (the schema
inferred from package.component) through a servicer that also handles the calicoctl patches.
"""

import sys
from pathlib import Path

# The repository's packages (configuration, components, calicoctl, ...) live beside this folder.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from package.provider import serve  # noqa: E402

if __name__ == "__main__":
    serve(sys.argv[1:])
