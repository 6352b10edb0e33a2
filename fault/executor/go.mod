module github.com/authcorp/libs/go/src/fault/executor

go 1.25.0

require (
	github.com/authcorp/libs/go/src/fault v0.2.0
	github.com/authcorp/libs/go/src/fault/budget v0.1.0
	github.com/authcorp/libs/go/src/fault/bulkhead v0.2.0
	github.com/authcorp/libs/go/src/fault/circuitbreaker v0.2.0
	github.com/authcorp/libs/go/src/fault/fallback v0.1.0
	github.com/authcorp/libs/go/src/fault/hedge v0.1.0
	github.com/authcorp/libs/go/src/fault/ratelimit v0.2.0
	github.com/authcorp/libs/go/src/fault/retry v0.2.0
	github.com/authcorp/libs/go/src/fault/throttle v0.1.0
	github.com/authcorp/libs/go/src/fault/timeout v0.2.0
	github.com/authcorp/libs/go/src/functional v0.1.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/authcorp/libs/go/src/apperrors v0.2.0 // indirect
	github.com/sony/gobreaker/v2 v2.4.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)

replace (
	github.com/authcorp/libs/go/src/apperrors => ../../apperrors
	github.com/authcorp/libs/go/src/fault => ../../fault
	github.com/authcorp/libs/go/src/fault/budget => ../../fault/budget
	github.com/authcorp/libs/go/src/fault/bulkhead => ../../fault/bulkhead
	github.com/authcorp/libs/go/src/fault/circuitbreaker => ../../fault/circuitbreaker
	github.com/authcorp/libs/go/src/fault/fallback => ../../fault/fallback
	github.com/authcorp/libs/go/src/fault/hedge => ../../fault/hedge
	github.com/authcorp/libs/go/src/fault/ratelimit => ../../fault/ratelimit
	github.com/authcorp/libs/go/src/fault/retry => ../../fault/retry
	github.com/authcorp/libs/go/src/fault/throttle => ../../fault/throttle
	github.com/authcorp/libs/go/src/fault/timeout => ../../fault/timeout
	github.com/authcorp/libs/go/src/functional => ../../functional
)
