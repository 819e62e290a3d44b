package k3s

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"

	"dokku-sshd/domains"
	"dokku-sshd/output"
	"dokku-sshd/schedulers"
	"dokku-sshd/store"
)

// Ingress annotations (docs/dokku-behaviour.md#domains).
const (
	// IngressMethodDomains marks the Ingresses made from an app's domains
	// (dokku.com/ingress-method: domains).
	IngressMethodDomains    = "domains"
	annotationSSLRedirect   = "nginx.ingress.kubernetes.io/force-ssl-redirect"
	annotationClusterIssuer = "cert-manager.io/cluster-issuer"
	annotationIssuer        = "cert-manager.io/issuer"
)

// maxObjectName is the longest name of an Ingress (a DNS subdomain).
const maxObjectName = 253

// routedProcs are the process types that get Ingresses: as in Dokku, only
// web has domains.
var routedProcs = []string{"web"}

// applyIngresses makes app's Ingresses match its domains: one per domain of
// each routed process that has a Service, written by server-side apply,
// and the app's other Ingresses of ours removed. The deploy calls it after
// the Services; DomainsUpdated when the domains change.
func (s *Scheduler) applyIngresses(ctx context.Context, c *cluster, app string, out io.Writer) error {
	list, err := domains.List(s.Store, app)
	if err != nil {
		return err
	}
	class, err := s.prop(store.Global, "ingress-class")
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, proc := range routedProcs {
		in, err := s.ingressInput(ctx, c, app, proc, class, list)
		if err != nil {
			return err
		}
		if in == nil {
			continue
		}
		objs, skipped := renderIngresses(*in)
		for _, sk := range skipped {
			output.Warn(out, "Skipping domain %s: %s", sk.domain, sk.why)
		}
		tls := in.tls
		if len(objs) == 0 {
			tls.issuer = nil // no Ingress asks for it
		}
		if err := s.applyIssuer(ctx, c, app, class, tls, out); err != nil {
			return err
		}
		for _, obj := range objs {
			if _, err := c.cs.NetworkingV1().Ingresses(c.ns).Apply(ctx, obj,
				metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
				return c.fail("applying ingress "+*obj.Name, err)
			}
			want[*obj.Name] = true
			output.Verbose(out, "Ingress %s: %s -> %s", *obj.Name, *obj.Spec.Rules[0].Host, in.service)
		}
	}
	return s.pruneIngresses(ctx, c, app, want, out)
}

// ingressInput gathers what proc's Ingresses are made of; nil when proc
// has no Service (no ports, or not deployed), so it gets none.
func (s *Scheduler) ingressInput(ctx context.Context, c *cluster, app, proc, class string, list []string) (*ingressInput, error) {
	svcName := app + "-" + proc
	svc, err := c.cs.CoreV1().Services(c.ns).Get(ctx, svcName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, c.fail("reading service "+svcName, err)
	}
	var ports []string
	for _, p := range svc.Spec.Ports {
		ports = append(ports, p.Name)
	}
	if primaryPortName(ports) == "" {
		return nil, nil // no named port to send to
	}
	tls, err := s.resolveTLS(app, proc)
	if err != nil {
		return nil, err
	}
	labels, annotations, err := s.customMeta(app, "ingress", proc)
	if err != nil {
		return nil, err
	}
	return &ingressInput{
		app: app, proc: proc, ns: c.ns, class: class, domains: list,
		service: svcName, port: primaryPortName(ports), tls: tls,
		labels: labels, annotations: annotations,
	}, nil
}

// pruneIngresses deletes app's Ingresses that are not in want: ours (the
// managed annotation) and, as Dokku does before a deploy, any for its web
// process that another method made.
func (s *Scheduler) pruneIngresses(ctx context.Context, c *cluster, app string, want map[string]bool, out io.Writer) error {
	list, err := c.cs.NetworkingV1().Ingresses(c.ns).List(ctx, metav1.ListOptions{LabelSelector: appSelector(app, "")})
	if err != nil {
		return c.fail("listing the ingresses of "+app, err)
	}
	for _, ing := range list.Items {
		ours := ing.Annotations[Managed] == "true" || ing.Labels[LabelInstance] == app+"-web"
		if want[ing.Name] || !ours {
			continue
		}
		err := c.cs.NetworkingV1().Ingresses(c.ns).Delete(ctx, ing.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return c.fail("deleting ingress "+ing.Name, err)
		}
		output.Verbose(out, "Removed ingress %s", ing.Name)
	}
	return nil
}

// DomainsUpdated applies app's Ingresses at once after its domains changed
// (schedulers.DomainsUpdater); an app that was never deployed has nothing
// to route and is left alone, without a connection to the cluster.
func (s *Scheduler) DomainsUpdated(ctx context.Context, app string, out io.Writer) error {
	d, err := schedulers.LoadDeployed(s.Store, app)
	if err != nil || d == nil {
		return err
	}
	unlock, err := s.lockApp(ctx, app, "domains update", out)
	if err != nil {
		return err
	}
	defer unlock()
	c, err := s.open(app)
	if err != nil {
		return err
	}
	output.Info1(out, "Updating the ingresses of %s", app)
	return s.applyIngresses(ctx, c, app, out)
}

// ingressInput is everything one process's Ingresses are rendered from.
type ingressInput struct {
	app, proc, ns, class string
	domains              []string
	service, port        string // backend Service and its port's name
	tls                  ingressTLS
	labels, annotations  map[string]string // the user's (scheduler-k3s:labels:set ...)
}

// skippedDomain is a domain that gets no Ingress, and why.
type skippedDomain struct{ domain, why string }

// renderIngresses renders one Ingress per domain, sorted by domain:
// APP-PROC-<slug>, Dokku's labels and annotations with the user's over
// them, a rule for the host to the Service's port, and with TLS the
// cert-manager issuer annotation and a tls section. Every Ingress's tls
// section lists all the process's hosts under the one secret: cert-manager
// makes one certificate for them all, as Dokku's Certificate does, and
// gets the same request from each Ingress.
func renderIngresses(in ingressInput) ([]*networkingv1ac.IngressApplyConfiguration, []skippedDomain) {
	var (
		hosts   []string
		skipped []skippedDomain
		byName  = map[string]string{}
	)
	// Host names are case-insensitive; the API server takes lower case.
	sorted := make([]string, len(in.domains))
	for i, d := range in.domains {
		sorted[i] = strings.ToLower(d)
	}
	sort.Strings(sorted)
	for _, d := range slices.Compact(sorted) {
		if ok, why := domains.Routable(d); !ok {
			skipped = append(skipped, skippedDomain{d, why})
			continue
		}
		name := ingressName(in.app, in.proc, d)
		if len(name) > maxObjectName {
			skipped = append(skipped, skippedDomain{d, fmt.Sprintf("its ingress name would be longer than %d characters", maxObjectName)})
			continue
		}
		if other, taken := byName[name]; taken {
			skipped = append(skipped, skippedDomain{d, fmt.Sprintf("its ingress name %s is taken by %s", name, other)})
			continue
		}
		byName[name] = d
		hosts = append(hosts, d)
	}
	var objs []*networkingv1ac.IngressApplyConfiguration
	for _, host := range hosts {
		objs = append(objs, renderIngress(in, host, hosts))
	}
	return objs, skipped
}

func renderIngress(in ingressInput, host string, allHosts []string) *networkingv1ac.IngressApplyConfiguration {
	annotations := map[string]string{AnnotationIngressMethod: IngressMethodDomains}
	spec := networkingv1ac.IngressSpec().WithIngressClassName(in.class)
	if in.tls.enabled {
		maps.Copy(annotations, in.tls.annotations)
		if in.class == DefaultIngressClass {
			annotations[annotationSSLRedirect] = "true"
		}
		spec.WithTLS(networkingv1ac.IngressTLS().WithHosts(allHosts...).WithSecretName(in.tls.secret))
	}
	maps.Copy(annotations, in.annotations)
	// The user's labels, under Dokku's: those select the app's objects.
	labels := map[string]string{}
	maps.Copy(labels, in.labels)
	maps.Copy(labels, objectLabels(in.app, in.proc))
	backend := networkingv1ac.IngressBackend().WithService(networkingv1ac.IngressServiceBackend().
		WithName(in.service).WithPort(networkingv1ac.ServiceBackendPort().WithName(in.port)))
	spec.WithRules(networkingv1ac.IngressRule().WithHost(host).WithHTTP(
		networkingv1ac.HTTPIngressRuleValue().WithPaths(networkingv1ac.HTTPIngressPath().
			WithPath("/").WithPathType(networkingv1.PathTypeImplementationSpecific).WithBackend(backend))))
	return networkingv1ac.Ingress(ingressName(in.app, in.proc, host), in.ns).
		WithLabels(labels).
		WithAnnotations(managedAnnotations(annotations)).
		WithSpec(spec)
}

// ingressName is Dokku's APP-PROC-<domain slug>; a leading wildcard label
// is spelled "wildcard-" so that *.a.com and a.com get different names.
func ingressName(app, proc, domain string) string {
	d := strings.ToLower(domain)
	prefix := ""
	if rest, ok := strings.CutPrefix(d, "*."); ok {
		prefix, d = "wildcard-", rest
	}
	return app + "-" + proc + "-" + prefix + slug(d)
}

// slug is what Dokku's slug library makes of a host name: every character
// other than a letter, digit, '-' or '_' becomes '-', runs of '-' become
// one, and '-' and '_' are trimmed from both ends.
func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_'
		switch {
		case ok:
			b.WriteRune(r)
		case !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-_")
}

// primaryPortName picks the Service port an Ingress sends to, in Dokku's
// order: an https-443-* port, else an http-80-* port, else the first https
// port, else the first http port, else the first port (names sorted, as
// Dokku sorts its port maps; of several https-443-* or http-80-* ports the
// last, as Dokku's template picks).
func primaryPortName(names []string) string {
	names = slices.Clone(names)
	sort.Strings(names)
	var https443, http80, https, http, first string
	for _, n := range names {
		switch scheme := strings.SplitN(n, "-", 2)[0]; {
		case strings.HasPrefix(n, "https-443-"):
			https443 = n
		case strings.HasPrefix(n, "http-80-"):
			http80 = n
		case scheme == "https" && https == "":
			https = n
		case scheme == "http" && http == "":
			http = n
		}
		if first == "" {
			first = n
		}
	}
	for _, n := range []string{https443, http80, https, http, first} {
		if n != "" {
			return n
		}
	}
	return ""
}
