module github.com/authcorp/libs/go/src/fault

go 1.25.0

require (
	github.com/authcorp/libs/go/src/apperrors v0.2.0
	github.com/authcorp/libs/go/src/functional v0.1.0
	go.uber.org/goleak v1.3.0
)

require github.com/google/go-cmp v0.7.0

replace (
	github.com/authcorp/libs/go/src/apperrors => ../apperrors
	github.com/authcorp/libs/go/src/functional => ../functional
)
