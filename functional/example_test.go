package functional_test

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/authcorp/libs/go/src/functional"
)

func ExampleResult() {
	result := functional.From(strconv.Atoi("42"))
	if result.IsOk() {
		fmt.Println("value:", result.Unwrap())
	}

	failed := functional.Err[int](errors.New("service unavailable"))
	fmt.Println("ok:", failed.IsOk(), "err:", failed.UnwrapErr())
	fmt.Println("default:", failed.UnwrapOr(-1))
	// Output:
	// value: 42
	// ok: false err: service unavailable
	// default: -1
}

func ExampleResult_Get() {
	v, err := functional.Ok("payment-123").Get()
	fmt.Println(v, err)
	// Output: payment-123 <nil>
}

func ExampleMap() {
	price := functional.Ok(1250)
	label := functional.Map(price, func(cents int) string { return fmt.Sprintf("$%d.%02d", cents/100, cents%100) })
	fmt.Println(label.Unwrap())
	// Output: $12.50
}

func ExampleFlatMap() {
	parse := func(s string) functional.Result[int] { return functional.From(strconv.Atoi(s)) }
	fmt.Println(functional.FlatMap(functional.Ok("7"), parse))
	fmt.Println(functional.FlatMap(functional.Ok("seven"), parse).IsErr())
	// Output:
	// Ok(7)
	// true
}

func ExampleMatch() {
	describe := func(r functional.Result[int]) string {
		return functional.Match(r,
			func(n int) string { return "got " + strconv.Itoa(n) },
			func(err error) string { return "failed: " + err.Error() })
	}
	fmt.Println(describe(functional.Ok(3)))
	fmt.Println(describe(functional.Err[int](errors.New("timeout"))))
	// Output:
	// got 3
	// failed: timeout
}
