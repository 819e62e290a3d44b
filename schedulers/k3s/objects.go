package k3s

import (
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	"dokku-sshd/appjson"
	"dokku-sshd/schedulers"
)

// The objects of one deploy are rendered from a spec by pure functions,
// so that what the cluster gets is tested without a cluster
// (testdata/*.yaml). docs/dokku-behaviour.md#k3s-objects lists them.

// spec is everything one deploy renders.
type spec struct {
	App, Namespace string
	Image          string // by digest
	BuilderType    string // dokku.com/builder-type
	Config         map[string]string
	// PullSecret is the .dockerconfigjson of pull-secret-APP; nil: none.
	PullSecret []byte
	// ImagePullSecret names the Secret the pods pull with: the
	// image-pull-secrets property, else pull-secret-APP, else "".
	ImagePullSecret string
	Ports           []portMap // web's, in name order
	PrimaryPort     int32     // the container port of PORT and of probes
	ShmSize         string    // shm-size: an in-memory /dev/shm of this size
	Procs           []procSpec
	// meta is the user's labels and annotations of a resource type and
	// process type (scheduler-k3s:labels:set, annotations:set).
	meta func(resource, proc string) (labels, annotations map[string]string, err error)
}

// procSpec is one process type's Deployment.
type procSpec struct {
	Name     string
	Replicas int32
	Args     []string // start command words; nil: the image's own
	Version  string   // app.kubernetes.io/version of its pod template
	Checks   []appjson.Healthcheck
}

// portMap is one port map in Dokku's k3s naming (SCHEME-HOST-CONTAINER).
type portMap struct {
	Name            string
	Scheme          string
	Host, Container int32
}

// Dokku's default resource requests of every process container.
const (
	defaultCPURequest    = "100m"
	defaultMemoryRequest = "128Mi"
)

// k3sPortMaps turns the ports plugin's maps into web's ports: only http
// and https maps (or container ports 80 and 443) reach a cluster, an https
// map gets its http-80 twin when the app has none, and the result is in
// name order. primary is the container port of the first of them, else
// 5000.
func k3sPortMaps(maps []string) (ports []portMap, primary int32, err error) {
	primary = schedulers.DefaultContainerPort
	byName := map[string]portMap{}
	for _, m := range maps {
		pm, err := schedulers.ParsePortMap(m)
		if err != nil {
			return nil, 0, err
		}
		if pm.Scheme != "http" && pm.Scheme != "https" && pm.Container != 80 && pm.Container != 443 {
			continue
		}
		if len(byName) == 0 {
			primary = int32(pm.Container)
		}
		p := portMap{Scheme: pm.Scheme, Host: int32(pm.Host), Container: int32(pm.Container)}
		p.Name = fmt.Sprintf("%s-%d-%d", p.Scheme, p.Host, p.Container)
		byName[p.Name] = p
	}
	for _, p := range byName {
		twin := fmt.Sprintf("http-80-%d", p.Container)
		if _, ok := byName[twin]; !ok && p.Scheme == "https" {
			byName[twin] = portMap{Name: twin, Scheme: "http", Host: 80, Container: p.Container}
		}
	}
	for _, p := range byName {
		ports = append(ports, p)
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i].Name < ports[j].Name })
	return ports, primary, nil
}

// withMeta returns labels and annotations with the user's for resource
// and proc merged over them; the selector labels stay, so that a user
// label cannot take an object away from its app.
func (sp *spec) withMeta(resource, proc string, labels, annotations map[string]string) (map[string]string, map[string]string, error) {
	if sp.meta == nil {
		return labels, annotations, nil
	}
	ul, ua, err := sp.meta(resource, proc)
	if err != nil {
		return nil, nil, err
	}
	l := maps.Clone(labels)
	for k, v := range ul {
		if _, fixed := labels[k]; !fixed || (k != LabelPartOf && k != LabelName && k != LabelInstance) {
			l[k] = v
		}
	}
	a := maps.Clone(annotations)
	maps.Copy(a, ua)
	return l, a, nil
}

// serviceAccount is the app's ServiceAccount APP.
func (sp *spec) serviceAccount() (*corev1ac.ServiceAccountApplyConfiguration, error) {
	l, a, err := sp.withMeta("serviceaccount", "", map[string]string{
		LabelInstance: "service-account", LabelName: "service-account", LabelPartOf: sp.App,
	}, managedAnnotations(nil))
	if err != nil {
		return nil, err
	}
	return corev1ac.ServiceAccount(sp.App, sp.Namespace).WithLabels(l).WithAnnotations(a), nil
}

// secretMeta is the metadata of the app's Secrets named name.
func (sp *spec) secretMeta(name string) (labels, annotations map[string]string, err error) {
	return sp.withMeta("secret", "", map[string]string{LabelName: name, LabelPartOf: sp.App}, managedAnnotations(nil))
}

// ConfigSecretName is the Secret of app's config (its env).
func ConfigSecretName(app string) string { return "config-" + app }

// PullSecretName is the Secret of app's registry credentials.
func PullSecretName(app string) string { return "pull-secret-" + app }

// configSecret is config-APP with the app's config as data.
func (sp *spec) configSecret() (*corev1ac.SecretApplyConfiguration, error) {
	name := ConfigSecretName(sp.App)
	l, a, err := sp.secretMeta(name)
	if err != nil {
		return nil, err
	}
	data := make(map[string][]byte, len(sp.Config))
	for k, v := range sp.Config {
		data[k] = []byte(v)
	}
	return corev1ac.Secret(name, sp.Namespace).WithLabels(l).WithAnnotations(a).
		WithType(corev1.SecretTypeOpaque).WithData(data), nil
}

// pullSecret is pull-secret-APP; nil when the app has no credentials.
func (sp *spec) pullSecret() (*corev1ac.SecretApplyConfiguration, error) {
	if sp.PullSecret == nil {
		return nil, nil
	}
	name := PullSecretName(sp.App)
	l, a, err := sp.secretMeta(name)
	if err != nil {
		return nil, err
	}
	return corev1ac.Secret(name, sp.Namespace).WithLabels(l).WithAnnotations(a).
		WithType(corev1.SecretTypeDockerConfigJson).
		WithData(map[string][]byte{corev1.DockerConfigJsonKey: sp.PullSecret}), nil
}

// hasPorts reports whether proc gets ports and a Service: web, when the
// app has port maps a cluster can route.
func (sp *spec) hasPorts(proc string) bool { return proc == "web" && len(sp.Ports) > 0 }

// deploymentName is APP-PROC, the name of proc's Deployment, Service and
// container.
func deploymentName(app, proc string) string { return app + "-" + proc }

// deployment is proc's Deployment.
func (sp *spec) deployment(p procSpec) (*appsv1ac.DeploymentApplyConfiguration, []string, error) {
	name := deploymentName(sp.App, p.Name)
	dokkuAnn := map[string]string{
		AnnotationVersion:     p.Version,
		AnnotationBuilderType: sp.BuilderType,
		AnnotationDefaultCtr:  name,
	}
	l, a, err := sp.withMeta("deployment", p.Name, objectLabels(sp.App, p.Name), managedAnnotations(dokkuAnn))
	if err != nil {
		return nil, nil, err
	}
	pl, pa, err := sp.withMeta("pod", p.Name, objectLabels(sp.App, p.Name), managedAnnotations(dokkuAnn))
	if err != nil {
		return nil, nil, err
	}
	ctr, minReady, warnings := sp.container(p)
	pod := corev1ac.PodSpec().WithContainers(ctr).WithServiceAccountName(sp.App)
	if sp.ImagePullSecret != "" {
		pod.WithImagePullSecrets(corev1ac.LocalObjectReference().WithName(sp.ImagePullSecret))
	}
	if sp.ShmSize != "" {
		q, err := resource.ParseQuantity(sp.ShmSize)
		if err != nil {
			return nil, nil, fmt.Errorf("invalid shm-size %q: %w", sp.ShmSize, err)
		}
		pod.WithVolumes(corev1ac.Volume().WithName("shmem").
			WithEmptyDir(corev1ac.EmptyDirVolumeSource().WithMedium(corev1.StorageMediumMemory).WithSizeLimit(q)))
	}
	ds := appsv1ac.DeploymentSpec().
		WithReplicas(p.Replicas).
		WithRevisionHistoryLimit(5).
		WithSelector(metav1ac.LabelSelector().WithMatchLabels(objectLabels(sp.App, p.Name))).
		WithTemplate(corev1ac.PodTemplateSpec().
			WithLabels(pl).WithAnnotations(pa).WithSpec(pod))
	if minReady > 0 {
		ds.WithMinReadySeconds(minReady)
	}
	d := appsv1ac.Deployment(name, sp.Namespace).WithLabels(l).WithAnnotations(a).WithSpec(ds)
	return d, warnings, nil
}

// container is proc's one container, and the minReadySeconds and
// warnings of its healthchecks.
func (sp *spec) container(p procSpec) (*corev1ac.ContainerApplyConfiguration, int32, []string) {
	name := deploymentName(sp.App, p.Name)
	c := corev1ac.Container().
		WithName(name).
		WithImage(sp.Image).
		WithImagePullPolicy(corev1.PullAlways).
		WithEnvFrom(corev1ac.EnvFromSource().WithSecretRef(
			corev1ac.SecretEnvSource().WithName(ConfigSecretName(sp.App)).WithOptional(true))).
		WithResources(corev1ac.ResourceRequirements().WithRequests(corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse(defaultCPURequest),
			corev1.ResourceMemory: resource.MustParse(defaultMemoryRequest),
		}))
	if len(p.Args) > 0 {
		c.WithArgs(p.Args...)
	}
	if sp.hasPorts(p.Name) {
		c.WithEnv(corev1ac.EnvVar().WithName("PORT").WithValue(strconv.Itoa(int(sp.PrimaryPort))))
		seen := map[int32]bool{}
		for _, pm := range sp.Ports {
			// One container port per number: an https map of a port that
			// has its http-80 map is the same port (the list is keyed by
			// port and protocol).
			if seen[pm.Container] {
				continue
			}
			seen[pm.Container] = true
			c.WithPorts(corev1ac.ContainerPort().WithName(pm.Name).
				WithContainerPort(pm.Container).WithProtocol(corev1.ProtocolTCP))
		}
	}
	pr := probesFor(p.Checks, sp.PrimaryPort)
	if pr.startup != nil {
		c.WithStartupProbe(pr.startup)
	}
	if pr.liveness != nil {
		c.WithLivenessProbe(pr.liveness)
	}
	if pr.readiness != nil {
		c.WithReadinessProbe(pr.readiness)
	}
	if sp.ShmSize != "" {
		c.WithVolumeMounts(corev1ac.VolumeMount().WithName("shmem").WithMountPath("/dev/shm"))
	}
	return c, pr.minReady, pr.warnings
}

// probes are a process's probes from its app.json healthchecks.
type probes struct {
	startup, liveness, readiness *corev1ac.ProbeApplyConfiguration
	minReady                     int32 // the first uptime check's seconds
	warnings                     []string
}

// probesFor maps app.json healthchecks to probes as Dokku does: the first
// check of each type (an untyped check is a startup check, as the
// docker-local checks read it); command → exec, listening → tcpSocket,
// path → httpGet; attempts, timeout, initialDelay and wait to
// failureThreshold, timeoutSeconds, initialDelaySeconds, periodSeconds;
// uptime → the Deployment's minReadySeconds.
func probesFor(checks []appjson.Healthcheck, primary int32) probes {
	var pr probes
	count := map[string]int{}
	for _, h := range checks {
		typ := h.Type
		if typ == "" {
			typ = "startup"
		}
		if h.Uptime > 0 && len(h.Command) == 0 && !h.Listening && h.Path == "" {
			count["uptime"]++
			if count["uptime"] == 1 {
				pr.minReady = int32(h.Uptime)
			}
			continue
		}
		count[typ]++
		if count[typ] > 1 {
			continue
		}
		p := probe(h, primary)
		if p == nil {
			continue
		}
		switch typ {
		case "startup":
			pr.startup = p
		case "liveness":
			pr.liveness = p
		case "readiness":
			pr.readiness = p
		}
	}
	for _, typ := range []string{"liveness", "readiness", "startup", "uptime"} {
		if count[typ] > 1 {
			pr.warnings = append(pr.warnings, fmt.Sprintf("Multiple %s checks are not supported, only the first one will be used", typ))
		}
	}
	return pr
}

// probe is one healthcheck as a probe; nil when it checks nothing a
// probe can.
func probe(h appjson.Healthcheck, primary int32) *corev1ac.ProbeApplyConfiguration {
	port := primary
	if h.Port > 0 {
		port = int32(h.Port)
	}
	p := corev1ac.Probe().WithSuccessThreshold(1)
	switch {
	case len(h.Command) > 0:
		p.WithExec(corev1ac.ExecAction().WithCommand(h.Command...))
	case h.Listening:
		tcp := corev1ac.TCPSocketAction().WithPort(intstr.FromInt32(port))
		for _, hd := range h.HTTPHeaders {
			if strings.EqualFold(hd.Name, "Host") {
				tcp.WithHost(hd.Value)
			}
		}
		p.WithTCPSocket(tcp)
	case h.Path != "":
		get := corev1ac.HTTPGetAction().WithPath(h.Path).WithPort(intstr.FromInt32(port))
		if h.Scheme != "" {
			get.WithScheme(corev1.URIScheme(strings.ToUpper(h.Scheme)))
		}
		for _, hd := range h.HTTPHeaders {
			get.WithHTTPHeaders(corev1ac.HTTPHeader().WithName(hd.Name).WithValue(hd.Value))
		}
		p.WithHTTPGet(get)
	default:
		return nil
	}
	if h.InitialDelay > 0 {
		p.WithInitialDelaySeconds(int32(h.InitialDelay))
	}
	if h.Wait > 0 {
		p.WithPeriodSeconds(int32(h.Wait))
	}
	if h.Timeout > 0 {
		p.WithTimeoutSeconds(int32(h.Timeout))
	}
	if h.Attempts > 0 {
		p.WithFailureThreshold(int32(h.Attempts))
	}
	return p
}

// service is proc's Service; nil when proc has no ports.
func (sp *spec) service(proc string) (*corev1ac.ServiceApplyConfiguration, error) {
	if !sp.hasPorts(proc) {
		return nil, nil
	}
	l, a, err := sp.withMeta("service", proc, objectLabels(sp.App, proc), managedAnnotations(nil))
	if err != nil {
		return nil, err
	}
	ss := corev1ac.ServiceSpec().WithSelector(objectLabels(sp.App, proc))
	seen := map[int32]bool{}
	for _, pm := range sp.Ports {
		// The list is keyed by port and protocol: one entry per port.
		if pm.Host == 0 || seen[pm.Host] {
			continue
		}
		seen[pm.Host] = true
		ss.WithPorts(corev1ac.ServicePort().WithName(pm.Name).WithPort(pm.Host).
			WithTargetPort(intstr.FromInt32(pm.Container)).WithProtocol(corev1.ProtocolTCP))
	}
	return corev1ac.Service(deploymentName(sp.App, proc), sp.Namespace).
		WithLabels(l).WithAnnotations(a).WithSpec(ss), nil
}
