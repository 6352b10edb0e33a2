module github.com/authcorp/libs/go/src/fault/admin/browsertest

go 1.25.0

require (
	github.com/authcorp/libs/go/src/fault v0.2.0
	github.com/authcorp/libs/go/src/fault/admin v0.1.0
	github.com/authcorp/libs/go/src/fault/circuitbreaker v0.2.0
	github.com/authcorp/libs/go/src/fault/executor v0.2.0
	github.com/chromedp/chromedp v0.23.1
	go.uber.org/goleak v1.3.0
)

require (
	github.com/authcorp/libs/go/src/apperrors v0.2.0 // indirect
	github.com/authcorp/libs/go/src/fault/budget v0.1.0 // indirect
	github.com/authcorp/libs/go/src/fault/bulkhead v0.2.0 // indirect
	github.com/authcorp/libs/go/src/fault/fallback v0.1.0 // indirect
	github.com/authcorp/libs/go/src/fault/hedge v0.1.0 // indirect
	github.com/authcorp/libs/go/src/fault/ratelimit v0.2.0 // indirect
	github.com/authcorp/libs/go/src/fault/retry v0.2.0 // indirect
	github.com/authcorp/libs/go/src/fault/throttle v0.1.0 // indirect
	github.com/authcorp/libs/go/src/fault/timeout v0.2.0 // indirect
	github.com/authcorp/libs/go/src/functional v0.1.0 // indirect
	github.com/chromedp/cdproto v0.160.1 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/sony/gobreaker/v2 v2.4.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)

replace (
	github.com/authcorp/libs/go/src/apperrors => ../../../apperrors
	github.com/authcorp/libs/go/src/fault => ../../../fault
	github.com/authcorp/libs/go/src/fault/admin => ../
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
