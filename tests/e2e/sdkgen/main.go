// Command sdkgen writes a language SDK for a package schema without that language's host.
//
// The e2e suite uses it where `pulumi package add` would ask the Python language host (not
// buildable on this machine) to generate the SDK: the same codegen packages, from the same
// pkg/v3 release the CLI is built from.
//
//	sdkgen SCHEMA.json OUTDIR [python|nodejs]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

// offline resolves no other package: a schema that refers to one is refused rather than fetched.
type offline struct{}

var errReference = errors.New("the schema refers to another package; sdkgen resolves none")

func (offline) LoadPackage(string, *semver.Version) (*schema.Package, error) { return nil, errReference }

func (offline) LoadPackageV2(context.Context, *schema.PackageDescriptor) (*schema.Package, error) {
	return nil, errReference
}

func (offline) LoadPackageReference(string, *semver.Version) (schema.PackageReference, error) {
	return nil, errReference
}

func (offline) LoadPackageReferenceV2(context.Context, *schema.PackageDescriptor) (schema.PackageReference, error) {
	return nil, errReference
}

func main() {
	if len(os.Args) != 3 && len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: sdkgen SCHEMA.json OUTDIR [python|nodejs]")
		os.Exit(2)
	}
	language := "python"
	if len(os.Args) == 4 {
		language = os.Args[3]
	}
	raw, err := os.ReadFile(os.Args[1])
	fail(err)
	var spec schema.PackageSpec
	fail(json.Unmarshal(raw, &spec))
	pkg, diags, err := schema.BindSpec(spec, offline{}, schema.ValidationOptions{})
	fail(err)
	if diags.HasErrors() {
		fail(diags)
	}
	var files map[string][]byte
	switch language {
	case "python":
		files, err = python.GeneratePackage("pulumi", pkg, nil, offline{})
	case "nodejs":
		files, err = nodejs.GeneratePackage("pulumi", pkg, nil, nil, true, offline{})
	default:
		err = fmt.Errorf("unknown language %q (python or nodejs)", language)
	}
	fail(err)
	for name, content := range files {
		path := filepath.Join(os.Args[2], name)
		fail(os.MkdirAll(filepath.Dir(path), 0o755))
		fail(os.WriteFile(path, content, 0o644))
	}
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdkgen:", err)
		os.Exit(1)
	}
}
