"""Where stacks made by release 0.2 find the calicoctl provider.

Pulumi keeps a dynamic resource's provider in state as a pickle that names its class by
module path. A stack created by 0.2 names `components.calicoctl_patch`, and `pulumi destroy`
(or a replacement) unpickles that name, so the name stays importable here.
"""

from calicoctl.provider import CalicoctlPatchProvider

__all__ = ["CalicoctlPatchProvider"]
