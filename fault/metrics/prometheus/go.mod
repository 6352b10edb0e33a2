module github.com/authcorp/libs/go/src/fault/metrics/prometheus

go 1.25.0

require (
	github.com/authcorp/libs/go/src/fault v0.2.0
	github.com/authcorp/libs/go/src/fault/executor v0.2.0
	github.com/authcorp/libs/go/src/fault/fallback v0.1.0
	github.com/prometheus/client_golang v1.24.1
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
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/kylelemons/godebug v1.1.0 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/prometheus/client_model v0.6.2 // indirect
	github.com/prometheus/common v0.70.1 // indirect
	github.com/prometheus/procfs v0.21.1 // indirect
	github.com/sony/gobreaker/v2 v2.4.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/time v0.15.0 // indirect
	google.golang.org/protobuf v1.36.11 // indirect
)

replace (
	github.com/authcorp/libs/go/src/apperrors => ../../../apperrors
	github.com/authcorp/libs/go/src/fault => ../../../fault
	github.com/authcorp/libs/go/src/fault/bulkhead => ../../bulkhead
	github.com/authcorp/libs/go/src/fault/circuitbreaker => ../../circuitbreaker
	github.com/authcorp/libs/go/src/fault/executor => ../../executor
	github.com/authcorp/libs/go/src/fault/ratelimit => ../../ratelimit
	github.com/authcorp/libs/go/src/fault/retry => ../../retry
	github.com/authcorp/libs/go/src/fault/timeout => ../../timeout
	github.com/authcorp/libs/go/src/functional => ../../../functional
)

replace github.com/authcorp/libs/go/src/fault/hedge => ../../hedge

replace github.com/authcorp/libs/go/src/fault/fallback => ../../fallback

replace github.com/authcorp/libs/go/src/fault/budget => ../../budget

replace github.com/authcorp/libs/go/src/fault/throttle => ../../throttle
