package main

import (
	"context"
	"errors"
	"fmt"
	"go/constant"
	"go/types"
	"os"
	"slices"
	"strings"

	"golang.org/x/tools/go/packages"
)

// moduleAPI loads every importable package of the module in dir (the
// module alone, GOWORK=off, as a consumer builds it; internal packages,
// commands and tests left out) and returns its exported API, one feature a
// line, sorted.
func moduleAPI(ctx context.Context, dir, modPath string) ([]string, error) {
	cfg := &packages.Config{
		Context: ctx,
		Dir:     dir,
		Mode:    packages.NeedName | packages.NeedTypes | packages.NeedModule,
		Env:     append(os.Environ(), "GOWORK=off"),
	}
	pkgs, err := packages.Load(cfg, "./...")
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", dir, err)
	}
	var errs []error
	var lines []string
	for _, p := range pkgs {
		for _, e := range p.Errors {
			errs = append(errs, fmt.Errorf("%s: %w", p.PkgPath, e))
		}
		if p.Name == "main" || p.Types == nil || isInternal(p.PkgPath) {
			continue
		}
		if p.Module == nil || p.Module.Path != modPath {
			continue
		}
		for _, f := range packageFeatures(p.Types) {
			lines = append(lines, "pkg "+p.PkgPath+", "+f)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.Sort(lines)
	return slices.Compact(lines), nil
}

func isInternal(path string) bool {
	return strings.HasSuffix(path, "/internal") || strings.Contains(path, "/internal/")
}

// packageFeatures lists the exported API of pkg, one feature a line:
//
//	const Name Type = value
//	var Name Type
//	func Name[TypeParams](params) results
//	type Name[TypeParams] struct
//	type Name struct, Field Type            (one line per exported field)
//	type Name interface
//	type Name interface, Method(params) results
//	type Name interface, unexported methods (a sealed interface)
//	type Name Underlying                    (any other defined type)
//	type Name = Type                        (alias)
//	method (*Name) Method(params) results   (declared exported methods)
//
// Parameter names are left out: renaming one breaks nobody.
func packageFeatures(pkg *types.Package) []string {
	q := func(p *types.Package) string {
		if p == pkg {
			return ""
		}
		return p.Path()
	}
	var ts func(t types.Type) string
	ts = func(t types.Type) string {
		// A func type's parameter names are no part of its identity.
		if sig, ok := t.(*types.Signature); ok {
			return "func" + signature(sig, ts)
		}
		return types.TypeString(t, q)
	}
	var out []string
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		switch o := obj.(type) {
		case *types.Const:
			out = append(out, fmt.Sprintf("const %s %s = %s", name, ts(o.Type()), constValue(o.Val())))
		case *types.Var:
			out = append(out, fmt.Sprintf("var %s %s", name, ts(o.Type())))
		case *types.Func:
			sig, _ := o.Type().(*types.Signature) // a func's type is always a signature
			out = append(out, "func "+name+typeParams(sig.TypeParams(), ts)+signature(sig, ts))
		case *types.TypeName:
			out = append(out, typeFeatures(o, ts)...)
		}
	}
	return out
}

func constValue(v constant.Value) string {
	if v.Kind() == constant.Float {
		// Exact, and the same on every platform.
		if r := constant.ToFloat(v); r.Kind() == constant.Float {
			return r.ExactString()
		}
	}
	return v.ExactString()
}

func typeFeatures(o *types.TypeName, ts func(types.Type) string) []string {
	name := o.Name()
	if o.IsAlias() {
		return []string{fmt.Sprintf("type %s = %s", name, ts(types.Unalias(o.Type())))}
	}
	named, ok := o.Type().(*types.Named)
	if !ok {
		return []string{fmt.Sprintf("type %s %s", name, ts(o.Type().Underlying()))}
	}
	head := "type " + name + typeParams(named.TypeParams(), ts)
	var out []string
	switch u := named.Underlying().(type) {
	case *types.Struct:
		out = append(out, head+" struct")
		for f := range u.Fields() {
			if !f.Exported() {
				continue
			}
			if f.Embedded() {
				out = append(out, fmt.Sprintf("type %s struct, embedded %s", name, ts(f.Type())))
			} else {
				out = append(out, fmt.Sprintf("type %s struct, %s %s", name, f.Name(), ts(f.Type())))
			}
		}
	case *types.Interface:
		if !u.IsMethodSet() {
			// A constraint with a type set: its whole text is the feature.
			return []string{head + " " + ts(u)}
		}
		out = append(out, head+" interface")
		sealed := false
		for m := range u.Methods() {
			if !m.Exported() {
				sealed = true
				continue
			}
			out = append(out, fmt.Sprintf("type %s interface, %s%s", name, m.Name(), signature(m.Signature(), ts)))
		}
		if sealed {
			out = append(out, fmt.Sprintf("type %s interface, unexported methods", name))
		}
	default:
		out = append(out, head+" "+ts(u))
	}
	for m := range named.Methods() {
		if !m.Exported() {
			continue
		}
		sig := m.Signature()
		recv := name
		if _, ptr := sig.Recv().Type().(*types.Pointer); ptr {
			recv = "*" + name
		}
		out = append(out, fmt.Sprintf("method (%s) %s%s", recv, m.Name(), signature(sig, ts)))
	}
	return out
}

func typeParams(tps *types.TypeParamList, ts func(types.Type) string) string {
	if tps.Len() == 0 {
		return ""
	}
	parts := make([]string, 0, tps.Len())
	for tp := range tps.TypeParams() {
		parts = append(parts, tp.Obj().Name()+" "+ts(tp.Constraint()))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// signature writes (params) results with the parameter names left out.
func signature(sig *types.Signature, ts func(types.Type) string) string {
	var b strings.Builder
	b.WriteString("(")
	n := sig.Params().Len()
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		t := sig.Params().At(i).Type()
		if sig.Variadic() && i == n-1 {
			if sl, ok := t.(*types.Slice); ok { // a variadic parameter is a slice
				t = sl.Elem()
			}
			b.WriteString("..." + ts(t))
			continue
		}
		b.WriteString(ts(t))
	}
	b.WriteString(")")
	switch r := sig.Results(); r.Len() {
	case 0:
	case 1:
		b.WriteString(" " + ts(r.At(0).Type()))
	default:
		parts := make([]string, 0, r.Len())
		for v := range r.Variables() {
			parts = append(parts, ts(v.Type()))
		}
		b.WriteString(" (" + strings.Join(parts, ", ") + ")")
	}
	return b.String()
}
