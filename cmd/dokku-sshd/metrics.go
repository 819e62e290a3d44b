package main

import (
	"context"
	"log/slog"
	"time"

	"dokku-sshd/commands"
	"dokku-sshd/deploy"
	"dokku-sshd/gitrecv"
	"dokku-sshd/metrics"
	"dokku-sshd/sshd"
)

// startMetrics serves /metrics on addr; all nil when addr is empty
// (metrics off). stop ends the listener.
func startMetrics(addr string, logger *slog.Logger) (m *metrics.Metrics, stop func(), err error) {
	if addr == "" {
		return nil, func() {}, nil
	}
	m = metrics.New()
	srv, err := m.Listen(addr, logger)
	if err != nil {
		return nil, nil, err
	}
	logger.Info("metrics listening", "addr", srv.Addr().String(), "path", metrics.Path)
	return m, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			logger.Warn("stopping the metrics endpoint", "err", err)
		}
	}, nil
}

// observer is m as the observer interface T of one package, or a nil T
// when metrics are off (not an interface holding a nil *Metrics, which
// would be called).
func observer[T any](m *metrics.Metrics) (o T) {
	// The interfaces it is asked for are checked at compile time below.
	if m != nil {
		o = any(m).(T)
	}
	return o
}

// connStats reads the SSH server's load for the gauges.
func connStats(srv *sshd.Server) func() metrics.ConnStats {
	return func() metrics.ConnStats {
		st := srv.Stats()
		return metrics.ConnStats{Open: st.Connections, Unauthenticated: st.Unauthenticated, Sessions: st.Sessions}
	}
}

var (
	_ sshd.Observer        = (*metrics.Metrics)(nil)
	_ commands.Observer    = (*metrics.Metrics)(nil)
	_ gitrecv.PushObserver = (*metrics.Metrics)(nil)
	_ deploy.Observer      = (*metrics.Metrics)(nil)
)
