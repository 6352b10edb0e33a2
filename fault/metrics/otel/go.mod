module github.com/authcorp/libs/go/src/fault/metrics/otel

go 1.25.0

require (
	github.com/authcorp/libs/go/src/fault v0.2.0
	github.com/authcorp/libs/go/src/fault/executor v0.2.0
	github.com/authcorp/libs/go/src/fault/fallback v0.1.0
	go.opentelemetry.io/otel v1.46.0
	go.opentelemetry.io/otel/metric v1.46.0
	go.opentelemetry.io/otel/sdk v1.46.0
	go.opentelemetry.io/otel/sdk/metric v1.46.0
	go.opentelemetry.io/otel/trace v1.46.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/authcorp/libs/go/src/apperrors v0.2.0 // indirect
	github.com/authcorp/libs/go/src/fault/budget v0.1.0 // indirect
	github.com/authcorp/libs/go/src/fault/bulkhead v0.2.0 // indirect
	github.com/authcorp/libs/go/src/fault/circuitbreaker v0.2.0 // indirect
	github.com/authcorp/libs/go/src/fault/hedge v0.1.0 // indirect
	github.com/authcorp/libs/go/src/fault/ratelimit v0.2.0 // indirect
	github.com/authcorp/libs/go/src/fault/retry v0.2.0 // indirect
	github.com/authcorp/libs/go/src/fault/throttle v0.1.0 // indirect
	github.com/authcorp/libs/go/src/fault/timeout v0.2.0 // indirect
	github.com/authcorp/libs/go/src/functional v0.1.0 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/go-logr/logr v1.4.4 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/sony/gobreaker/v2 v2.4.0 // indirect
	go.opentelemetry.io/auto/sdk v1.2.1 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)

replace (
	github.com/authcorp/libs/go/src/apperrors => ../../../apperrors
	github.com/authcorp/libs/go/src/fault => ../../../fault
	github.com/authcorp/libs/go/src/fault/budget => ../../budget
	github.com/authcorp/libs/go/src/fault/bulkhead => ../../bulkhead
	github.com/authcorp/libs/go/src/fault/circuitbreaker => ../../circuitbreaker
	github.com/authcorp/libs/go/src/fault/executor => ../../executor
	github.com/authcorp/libs/go/src/fault/fallback => ../../fallback
	github.com/authcorp/libs/go/src/fault/hedge => ../../hedge
	github.com/authcorp/libs/go/src/fault/ratelimit => ../../ratelimit
	github.com/authcorp/libs/go/src/fault/retry => ../../retry
	github.com/authcorp/libs/go/src/fault/throttle => ../../throttle
	github.com/authcorp/libs/go/src/fault/timeout => ../../timeout
	github.com/authcorp/libs/go/src/functional => ../../../functional
)
