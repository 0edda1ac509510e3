"""Run one Pulumi CLI command on this program with the Python SDK's own language runtime.

    python -m tests.e2e.pulumi_host PROJECT_DIR PULUMI_BINARY ARGS...

The Go language host (`pulumi-language-python`) is a module the Go proxy here does not
serve, so it cannot be built. The Python SDK ships the language runtime server that its
Automation API uses for inline programs; this script serves the project's `__main__.py`
with it and runs the real Pulumi CLI against it through the CLI's `--client` flag. The
engine, the providers, the state backend and the stack config are exactly what
`pulumi up` uses; only the process that runs the Python program differs.

SIGINT and SIGTERM are passed on to the CLI, and the CLI's exit status is ours.
"""

from __future__ import annotations

import os
import runpy
import signal
import subprocess
import sys
from concurrent import futures

import grpc
from pulumi.automation._server import LanguageServer
from pulumi.runtime.proto import language_pb2_grpc

MAX_MESSAGE = 400 * 1024 * 1024


def main(argv: list[str]) -> int:
    project, pulumi, *args = argv
    project = os.path.abspath(project)
    sys.path.insert(0, project)
    os.chdir(project)

    def program() -> None:
        runpy.run_path(os.path.join(project, "__main__.py"), run_name="__main__")

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        options=[("grpc.max_receive_message_length", MAX_MESSAGE), ("grpc.max_send_message_length", MAX_MESSAGE)],
    )
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(LanguageServer(program), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    cli = subprocess.Popen([pulumi, *args, f"--client=127.0.0.1:{port}"])

    def forward(signum, _frame):
        cli.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    status = cli.wait()
    server.stop(grace=1)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
