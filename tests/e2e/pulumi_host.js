// Runs one Pulumi CLI command on a compiled Node.js program with the Node SDK's own language runtime:
//
//     node tests/e2e/pulumi_host.js PROJECT_DIR PULUMI_BINARY ARGS...
//
// The Node.js language host (pulumi-language-nodejs) cannot be built here, like the Python one
// (see pulumi_host.py). The Node SDK ships the language runtime server its Automation API uses for
// inline programs; this serves PROJECT_DIR/bin/index.js (a module exporting the program as a
// function) with it, from the project's own node_modules, and runs the real CLI with --client.
"use strict";
const { spawn } = require("child_process");
const { createRequire } = require("module");
const path = require("path");

const [project, pulumi, ...args] = process.argv.slice(2);
const fromProject = createRequire(path.join(path.resolve(project), "package.json"));
const grpc = fromProject("@grpc/grpc-js");
const languageGrpc = fromProject("@pulumi/pulumi/proto/language_grpc_pb.js");
const { LanguageServer } = fromProject("@pulumi/pulumi/automation/server");

process.chdir(project);
const program = fromProject(path.join(path.resolve(project), "bin", "index.js"));
const limit = 400 * 1024 * 1024;
const server = new grpc.Server({ "grpc.max_receive_message_length": limit, "grpc.max_send_message_length": limit });
server.addService(languageGrpc.LanguageRuntimeService, new LanguageServer(program));
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) => {
    if (error) {
        throw error;
    }
    const cli = spawn(pulumi, [...args, `--client=127.0.0.1:${port}`], { stdio: "inherit" });
    for (const signal of ["SIGINT", "SIGTERM"]) {
        process.on(signal, () => cli.kill(signal));
    }
    cli.on("exit", (code, signal) => {
        server.forceShutdown();
        process.exit(code ?? (signal ? 1 : 0));
    });
});
