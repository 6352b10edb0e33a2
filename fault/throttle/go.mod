module github.com/authcorp/libs/go/src/fault/throttle

go 1.25.0

require (
	github.com/authcorp/libs/go/src/apperrors v0.2.0
	github.com/authcorp/libs/go/src/fault v0.2.0
	go.uber.org/goleak v1.3.0
)

require github.com/authcorp/libs/go/src/functional v0.1.0 // indirect

replace (
	github.com/authcorp/libs/go/src/apperrors => ../../apperrors
	github.com/authcorp/libs/go/src/fault => ../../fault
	github.com/authcorp/libs/go/src/functional => ../../functional
)
