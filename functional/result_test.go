package functional_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/authcorp/libs/go/src/functional"
)

var errBoom = errors.New("boom")

func TestZeroValueIsOk(t *testing.T) {
	var r functional.Result[int]
	if !r.IsOk() || r.IsErr() || r.Unwrap() != 0 || r.UnwrapErr() != nil {
		t.Fatalf("zero Result = %v, want Ok(0)", r)
	}
}

func TestOkAndErr(t *testing.T) {
	ok := functional.Ok("v")
	if !ok.IsOk() || ok.Unwrap() != "v" || ok.UnwrapErr() != nil || ok.UnwrapOr("d") != "v" {
		t.Fatalf("Ok: %v", ok)
	}
	bad := functional.Err[string](errBoom)
	if !bad.IsErr() || bad.UnwrapErr() != errBoom || bad.UnwrapOr("d") != "d" {
		t.Fatalf("Err: %v", bad)
	}
	if got := bad.UnwrapOrElse(func(err error) string { return err.Error() }); got != "boom" {
		t.Fatalf("UnwrapOrElse = %q", got)
	}
	if v, err := bad.Get(); v != "" || err != errBoom {
		t.Fatalf("Get = %q, %v", v, err)
	}
}

func TestErrNil(t *testing.T) {
	r := functional.Err[int](nil)
	if !r.IsErr() || !errors.Is(r.UnwrapErr(), functional.ErrNilError) {
		t.Fatalf("Err(nil) = %v", r)
	}
}

func TestUnwrapPanicsNamingTheError(t *testing.T) {
	defer func() {
		p := recover()
		s, _ := p.(string)
		if !strings.Contains(s, "boom") {
			t.Fatalf("panic = %v, want a message naming the error", p)
		}
	}()
	functional.Err[int](errBoom).Unwrap()
	t.Fatal("Unwrap did not panic")
}

func TestFromAndTry(t *testing.T) {
	if r := functional.From(strconv.Atoi("42")); r.Unwrap() != 42 {
		t.Fatalf("From ok = %v", r)
	}
	if r := functional.Try(func() (int, error) { return strconv.Atoi("x") }); !r.IsErr() {
		t.Fatalf("Try err = %v", r)
	}
	if r := functional.From(7, errBoom); r.IsOk() || r.UnwrapOr(0) != 0 {
		t.Fatalf("From drops the value on error: %v", r)
	}
}

func TestCombinators(t *testing.T) {
	double := func(n int) int { return 2 * n }
	if r := functional.Map(functional.Ok(2), double); r.Unwrap() != 4 {
		t.Fatalf("Map ok = %v", r)
	}
	if r := functional.Map(functional.Err[int](errBoom), double); r.UnwrapErr() != errBoom {
		t.Fatalf("Map err = %v", r)
	}
	parse := func(s string) functional.Result[int] { return functional.From(strconv.Atoi(s)) }
	if r := functional.FlatMap(functional.Ok("5"), parse); r.Unwrap() != 5 {
		t.Fatalf("FlatMap = %v", r)
	}
	if r := functional.AndThen(functional.Ok("x"), parse); !r.IsErr() {
		t.Fatalf("AndThen = %v", r)
	}
	if r := functional.AndThen(functional.Err[string](errBoom), parse); r.UnwrapErr() != errBoom {
		t.Fatalf("AndThen err = %v", r)
	}
	wrapped := functional.MapErr(functional.Err[int](errBoom), func(err error) error { return errors.Join(errors.New("ctx"), err) })
	if !errors.Is(wrapped.UnwrapErr(), errBoom) {
		t.Fatalf("MapErr = %v", wrapped)
	}
	if r := functional.MapErr(functional.Ok(1), func(error) error { return errBoom }); r.Unwrap() != 1 {
		t.Fatalf("MapErr on ok = %v", r)
	}
	s := functional.Match(functional.Err[int](errBoom), strconv.Itoa, error.Error)
	if s != "boom" {
		t.Fatalf("Match = %q", s)
	}
	if s := functional.Match(functional.Ok(3), strconv.Itoa, error.Error); s != "3" {
		t.Fatalf("Match ok = %q", s)
	}
}

func TestString(t *testing.T) {
	if s := functional.Ok(1).String(); s != "Ok(1)" {
		t.Fatal(s)
	}
	if s := functional.Err[int](errBoom).String(); s != "Err(boom)" {
		t.Fatal(s)
	}
}
