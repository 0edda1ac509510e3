// chart-render renders a chart with Helm's template engine, at the Helm release pulumi-kubernetes' Chart v4
// renders with, its `lookup` answered from the objects it is given instead of a cluster. The e2e suite uses
// it to run the preflight chart (components/preflight-chart) against many clusters in milliseconds each.
//
//	chart-render <chart folder> < {"values": {...}, "objects": [{apiVersion, kind, metadata, ...}, ...]}
//
// prints {"rendered": {template: text}} (templates that render only whitespace left out), or
// {"error": "..."} when rendering fails, as a template's `fail` does.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/fake"
)

// The kinds the preflight chart looks up: apiVersion/kind to REST resource and scope. A lookup of any
// other kind fails, as it does against an API server that does not serve it.
var kinds = map[string]struct {
	resource   string
	namespaced bool
}{
	"apiextensions.k8s.io/v1/CustomResourceDefinition": {"customresourcedefinitions", false},
	"v1/Namespace":                            {"namespaces", false},
	"v1/ConfigMap":                            {"configmaps", true},
	"v1/Service":                              {"services", true},
	"monitoring.coreos.com/v1/Prometheus":     {"prometheuses", true},
	"monitoring.coreos.com/v1/PodMonitor":     {"podmonitors", true},
	"monitoring.coreos.com/v1/ServiceMonitor": {"servicemonitors", true},
	"monitoring.coreos.com/v1/PrometheusRule": {"prometheusrules", true},
}

type clients struct{ dynamic dynamic.Interface }

func (c clients) GetClientFor(apiVersion, kind string) (dynamic.NamespaceableResourceInterface, bool, error) {
	known, ok := kinds[apiVersion+"/"+kind]
	if !ok {
		return nil, false, fmt.Errorf("the server could not find the requested resource (%s %s)", apiVersion, kind)
	}
	version, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, false, err
	}
	return c.dynamic.Resource(version.WithResource(known.resource)), known.namespaced, nil
}

func render(folder string, values map[string]any, objects []map[string]any) (map[string]string, error) {
	chart, err := loader.Load(folder)
	if err != nil {
		return nil, err
	}
	listKinds := map[schema.GroupVersionResource]string{}
	for key, known := range kinds {
		cut := strings.LastIndex(key, "/")
		version, err := schema.ParseGroupVersion(key[:cut])
		if err != nil {
			return nil, err
		}
		listKinds[version.WithResource(known.resource)] = key[cut+1:] + "List"
	}
	live := make([]runtime.Object, 0, len(objects))
	for _, object := range objects {
		live = append(live, &unstructured.Unstructured{Object: object})
	}
	cluster := fake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds, live...)
	release := chartutil.ReleaseOptions{Name: "preflight", Namespace: "default", IsInstall: true}
	renderValues, err := chartutil.ToRenderValues(chart, values, release, nil)
	if err != nil {
		return nil, err
	}
	rendered, err := engine.RenderWithClientProvider(chart, renderValues, clients{cluster})
	if err != nil {
		return nil, err
	}
	for name, text := range rendered {
		if strings.TrimSpace(text) == "" {
			delete(rendered, name)
		}
	}
	return rendered, nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: chart-render <chart folder> < {\"values\": {...}, \"objects\": [...]}")
		os.Exit(2)
	}
	var input struct {
		Values  map[string]any   `json:"values"`
		Objects []map[string]any `json:"objects"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&input); err != nil {
		fmt.Fprintln(os.Stderr, "chart-render: reading the input:", err)
		os.Exit(2)
	}
	result := map[string]any{}
	rendered, err := render(os.Args[1], input.Values, input.Objects)
	if err != nil {
		result["error"] = err.Error()
	} else {
		result["rendered"] = rendered
	}
	if err := json.NewEncoder(os.Stdout).Encode(result); err != nil {
		fmt.Fprintln(os.Stderr, "chart-render:", err)
		os.Exit(1)
	}
}
