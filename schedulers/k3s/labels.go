package k3s

import (
	"maps"

	"k8s.io/apimachinery/pkg/labels"
)

// Dokku's labels and annotations on every object of an app
// (docs/dokku-behaviour.md#k3s-objects). Every lookup of an app's objects
// selects on PartOf (and Name for one process type).
const (
	LabelPartOf   = "app.kubernetes.io/part-of"
	LabelName     = "app.kubernetes.io/name"
	LabelInstance = "app.kubernetes.io/instance"
	// AnnotationVersion is the pod template's deployment id per process:
	// changing it alone rolls that process's pods (ps:restart APP PROC).
	AnnotationVersion       = "app.kubernetes.io/version"
	AnnotationBuilderType   = "dokku.com/builder-type"
	AnnotationDefaultCtr    = "kubectl.kubernetes.io/default-container"
	AnnotationJobSuffix     = "dokku.com/job-suffix"
	AnnotationIngressMethod = "dokku.com/ingress-method"
	LabelJobName            = "batch.kubernetes.io/job-name"
)

// objectLabels are the labels of app's object for process (or resource
// kind) name: instance APP-NAME, name NAME, part-of APP.
func objectLabels(app, name string) map[string]string {
	return map[string]string{
		LabelInstance: app + "-" + name,
		LabelName:     name,
		LabelPartOf:   app,
	}
}

// managedAnnotations are the annotations every object carries, plus extra.
func managedAnnotations(extra map[string]string) map[string]string {
	a := map[string]string{Managed: "true"}
	maps.Copy(a, extra)
	return a
}

// appSelector selects every object of app; with proc, only that process
// type's.
func appSelector(app, proc string) string {
	set := labels.Set{LabelPartOf: app}
	if proc != "" {
		set[LabelName] = proc
	}
	return labels.SelectorFromSet(set).String()
}
