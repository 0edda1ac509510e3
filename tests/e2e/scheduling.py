"""How `make e2e` shares its scenarios between parallel pytest-xdist workers.

Like ``--dist load`` (every scenario goes to whichever worker is free), except that the
component-package scenarios stay together on one worker: their session fixtures (the
plugin's virtualenv, the generated SDKs, an npm install) are then built once, not on both.

xdist's own ``--dist loadgroup`` does not group with pytest 9.2: it marks a group by
rewriting the test's node id, which pytest 9.2 no longer reads from the attribute xdist
writes; this scheduler groups by the test's file instead.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from xdist.scheduler import LoadScopeScheduling

# Test files whose scenarios share one worker.
ONE_WORKER_FILES = ("test_component_package.py",)


class ScenarioScheduling(LoadScopeScheduling):
    def _split_scope(self, nodeid: str) -> str:
        """The unit of work a scenario belongs to: its file for ONE_WORKER_FILES, else itself."""
        path = nodeid.split("::", 1)[0]
        return path if PurePosixPath(path).name in ONE_WORKER_FILES else nodeid
