package faultgrpc

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/health"
)

// DefaultWatchInterval is how often a HealthServer re-evaluates readiness for
// its Watch streams (see WithWatchInterval).
const DefaultWatchInterval = time.Second

// HealthServer is the standard grpc.health.v1 Health service over a
// fault/health Registry: a service is SERVING while the registry's readiness
// probe passes (or warns) and NOT_SERVING while it fails or the readiness
// gate is closed. Register it with healthpb.RegisterHealthServer.
//
// The empty service name ("", the whole server) and the names given with
// WithHealthServices answer with that aggregate; any other name is unknown
// (NOT_FOUND for Check, SERVICE_UNKNOWN for Watch), as the protocol says.
//
// Watch streams re-evaluate readiness every WithWatchInterval and send only
// changes. HealthServer's SetReady opens or closes the registry's gate and
// tells every Watch stream at once: give the HealthServer (rather than the
// registry) to fault/shutdown as its readiness, and load balancers watching
// the server stop sending it calls as soon as draining starts.
type HealthServer struct {
	healthpb.UnimplementedHealthServer

	reg      *health.Registry
	names    map[string]bool
	interval time.Duration

	mu      sync.Mutex
	changed chan struct{} // closed (and replaced) by SetReady

	closeOnce sync.Once
	closed    chan struct{}
}

// HealthOption configures a HealthServer.
type HealthOption func(*HealthServer)

// WithHealthServices adds service names that answer with the aggregate
// status, besides "".
func WithHealthServices(names ...string) HealthOption {
	return func(h *HealthServer) {
		for _, n := range names {
			h.names[n] = true
		}
	}
}

// WithWatchInterval sets how often Watch streams re-evaluate readiness
// (DefaultWatchInterval, 1s). A value <= 0 means the default.
func WithWatchInterval(d time.Duration) HealthOption {
	return func(h *HealthServer) { h.interval = d }
}

// NewHealthServer returns the Health service over reg. A nil reg is an
// *fault.InvalidPolicyError.
func NewHealthServer(reg *health.Registry, opts ...HealthOption) (*HealthServer, error) {
	if reg == nil {
		return nil, fault.NewInvalidPolicyError("", "Registry", nil, "must not be nil")
	}
	h := &HealthServer{reg: reg, names: map[string]bool{"": true}, changed: make(chan struct{}), closed: make(chan struct{})}
	for _, o := range opts {
		if o != nil {
			o(h)
		}
	}
	if h.interval <= 0 {
		h.interval = DefaultWatchInterval
	}
	return h, nil
}

// SetReady opens (true) or closes (false) the registry's readiness gate and
// wakes every Watch stream, so the change reaches watchers at once. It
// implements fault/shutdown's Readiness.
func (h *HealthServer) SetReady(ready bool) {
	if h.reg == nil {
		return
	}
	h.reg.SetReady(ready)
	h.mu.Lock()
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
}

// Close answers NOT_SERVING from now on and ends every Watch stream (with
// UNAVAILABLE, after telling it NOT_SERVING), so that grpc.Server's
// GracefulStop, which waits for every open stream, is not held up by
// watchers. Call it when draining starts, after SetReady(false) (a
// fault/shutdown hook, or just before GracefulStop). It is idempotent.
func (h *HealthServer) Close() {
	if h.closed == nil {
		return
	}
	h.closeOnce.Do(func() { close(h.closed) })
}

func (h *HealthServer) isClosed() bool {
	if h.closed == nil {
		return true // a zero HealthServer serves nothing
	}
	select {
	case <-h.closed:
		return true
	default:
		return false
	}
}

func (h *HealthServer) status(ctx context.Context) healthpb.HealthCheckResponse_ServingStatus {
	if h.isClosed() || h.reg.Readiness(ctx).Status == health.StatusFail {
		return healthpb.HealthCheckResponse_NOT_SERVING
	}
	return healthpb.HealthCheckResponse_SERVING
}

// Check answers the readiness of the server (service "" or a name given
// with WithHealthServices); other names are NOT_FOUND.
func (h *HealthServer) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if !h.names[req.GetService()] {
		return nil, status.Error(codes.NotFound, "unknown service")
	}
	return &healthpb.HealthCheckResponse{Status: h.status(ctx)}, nil
}

// List answers the status of every known service name.
func (h *HealthServer) List(ctx context.Context, _ *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	st := h.status(ctx)
	out := &healthpb.HealthListResponse{Statuses: make(map[string]*healthpb.HealthCheckResponse, len(h.names))}
	for n := range h.names {
		out.Statuses[n] = &healthpb.HealthCheckResponse{Status: st}
	}
	return out, nil
}

// Watch sends the service's status, then every change, until the client
// goes away or Close is called. An unknown service is reported SERVICE_UNKNOWN (and watched
// no further: names are fixed at construction).
func (h *HealthServer) Watch(req *healthpb.HealthCheckRequest, stream grpc.ServerStreamingServer[healthpb.HealthCheckResponse]) error {
	ctx := stream.Context()
	if !h.names[req.GetService()] {
		if err := stream.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVICE_UNKNOWN}); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-h.closed:
			return status.Error(codes.Unavailable, "the server is shutting down")
		}
	}
	t := time.NewTicker(h.interval)
	defer t.Stop()
	last := healthpb.HealthCheckResponse_UNKNOWN
	for {
		h.mu.Lock()
		changed := h.changed
		h.mu.Unlock()
		if st := h.status(ctx); st != last {
			if err := stream.Send(&healthpb.HealthCheckResponse{Status: st}); err != nil {
				return err
			}
			last = st
		}
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-h.closed:
			if last != healthpb.HealthCheckResponse_NOT_SERVING {
				if err := stream.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_NOT_SERVING}); err != nil {
					return err
				}
			}
			return status.Error(codes.Unavailable, "the server is shutting down")
		case <-t.C:
		case <-changed:
		}
	}
}
