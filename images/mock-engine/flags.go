// Command-line parsing that mimics the two dialects the real engines use:
// Python argparse (KTransformers, vLLM, SGLang: exit 2, "prog: error: ...") and
// llama.cpp's common/arg.cpp (exit 1, "error: invalid argument: X").
//
// The point is fidelity of *rejection*: a chart that renders a flag the real
// engine does not know must fail here exactly as it would on a GPU node.
package main

import (
	"fmt"
	"strconv"
	"strings"
)

type argKind int

const (
	takesValue   argKind = iota // --flag VALUE or --flag=VALUE
	storeTrue                   // --flag (argparse store_true / llama boolean switch)
	boolOptional                // argparse BooleanOptionalAction: --flag / --no-flag
	negates                     // llama "--no-X" switch that sets dest to false
	oneOrMore                   // argparse nargs='+': every following non-option token
)

type valueType int

const (
	strValue valueType = iota
	intValue
	floatValue
)

// flagSpec describes one option. dest is the key it is stored under.
type flagSpec struct {
	names   []string
	kind    argKind
	typ     valueType
	choices []string
	// validate checks a value beyond typ/choices (e.g. llama's -ngl accepting "auto").
	validate func(string) error
	dest     string
}

func opt(dest string, kind argKind, typ valueType, names ...string) flagSpec {
	return flagSpec{names: names, kind: kind, typ: typ, dest: dest}
}

func (f flagSpec) withChoices(c ...string) flagSpec { f.choices = c; return f }

func (f flagSpec) withValidate(v func(string) error) flagSpec { f.validate = v; return f }

type dialect int

const (
	argparseDialect dialect = iota
	llamaDialect
)

// parser holds the option table of one engine.
type parser struct {
	prog    string
	dialect dialect
	flags   []flagSpec
	// maxPositionals is how many positional arguments are accepted (vllm serve <model>).
	maxPositionals int
	// dashUnderscores: vLLM's FlexibleArgumentParser rewrites --foo_bar to --foo-bar.
	dashUnderscores bool
}

// parsed is the result of a successful parse.
type parsed struct {
	values      map[string]string
	positionals []string
}

func (p parsed) get(dest, fallback string) string {
	if v, ok := p.values[dest]; ok {
		return v
	}
	return fallback
}

func (p parsed) has(dest string) bool { _, ok := p.values[dest]; return ok }

// usageError is a rejected command line; exitCode and message match the real engine.
type usageError struct {
	exitCode int
	message  string
}

func (e *usageError) Error() string { return e.message }

func (p *parser) fail(format string, a ...any) *usageError {
	msg := fmt.Sprintf(format, a...)
	if p.dialect == llamaDialect {
		return &usageError{exitCode: 1, message: msg}
	}
	return &usageError{exitCode: 2, message: fmt.Sprintf("usage: %s [-h] [options]\n%s: error: %s", p.prog, p.prog, msg)}
}

// lookup finds the spec for an option name; for BooleanOptionalAction it also
// matches the generated --no- form and reports the negation.
func (p *parser) lookup(name string) (spec flagSpec, negated bool, ok bool) {
	for _, f := range p.flags {
		for _, n := range f.names {
			if n == name {
				return f, false, true
			}
			if f.kind == boolOptional && strings.HasPrefix(n, "--") && name == "--no-"+n[2:] {
				return f, true, true
			}
		}
	}
	return flagSpec{}, false, false
}

func isNegativeNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil && strings.HasPrefix(s, "-")
}

func (p *parser) checkValue(f flagSpec, name, value string) *usageError {
	display := name
	if p.dialect == argparseDialect {
		display = strings.Join(f.names, "/")
	}
	if f.validate != nil {
		if err := f.validate(value); err != nil {
			if p.dialect == llamaDialect {
				return p.fail("error while handling argument \"%s\": %v", name, err)
			}
			return p.fail("argument %s: %v", display, err)
		}
	}
	switch f.typ {
	case intValue:
		if _, err := strconv.Atoi(value); err != nil {
			if p.dialect == llamaDialect {
				return p.fail("error while handling argument \"%s\": stoi", name)
			}
			return p.fail("argument %s: invalid int value: '%s'", display, value)
		}
	case floatValue:
		if _, err := strconv.ParseFloat(value, 64); err != nil {
			if p.dialect == llamaDialect {
				return p.fail("error while handling argument \"%s\": stof", name)
			}
			return p.fail("argument %s: invalid float value: '%s'", display, value)
		}
	}
	if len(f.choices) > 0 {
		for _, c := range f.choices {
			if c == value {
				return nil
			}
		}
		if p.dialect == llamaDialect {
			return p.fail("error while handling argument \"%s\": unknown value: '%s'", name, value)
		}
		quoted := make([]string, len(f.choices))
		for i, c := range f.choices {
			quoted[i] = "'" + c + "'"
		}
		return p.fail("argument %s: invalid choice: '%s' (choose from %s)", display, value, strings.Join(quoted, ", "))
	}
	return nil
}

// parse applies the option table to args. Like argparse, unknown options (and
// the stray values after them) are collected and reported together at the end;
// like llama.cpp, the llama dialect stops at the first unknown option.
func (p *parser) parse(args []string) (parsed, error) {
	out := parsed{values: map[string]string{}}
	var unrecognized []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") || arg == "-" || (isNegativeNumber(arg) && p.dialect == argparseDialect) {
			if len(out.positionals) < p.maxPositionals {
				out.positionals = append(out.positionals, arg)
			} else {
				if p.dialect == llamaDialect {
					return out, p.fail("error: invalid argument: %s", arg)
				}
				unrecognized = append(unrecognized, arg)
			}
			continue
		}
		if arg == "--" {
			continue
		}
		name, inlineValue, hasInline := strings.Cut(arg, "=")
		if p.dialect == llamaDialect {
			// llama.cpp does not split "--flag=value"; the whole token is the option name.
			name, hasInline = arg, false
		}
		if p.dashUnderscores && strings.HasPrefix(name, "--") {
			name = "--" + strings.ReplaceAll(name[2:], "_", "-")
		}
		spec, negated, ok := p.lookup(name)
		if !ok {
			if p.dialect == llamaDialect {
				return out, p.fail("error: invalid argument: %s", arg)
			}
			unrecognized = append(unrecognized, arg)
			continue
		}
		switch spec.kind {
		case storeTrue, boolOptional, negates:
			if hasInline {
				return out, p.fail("argument %s: ignored explicit argument '%s'", name, inlineValue)
			}
			out.values[spec.dest] = strconv.FormatBool(!negated && spec.kind != negates)
		case takesValue:
			value := inlineValue
			if !hasInline {
				if i+1 >= len(args) {
					if p.dialect == llamaDialect {
						return out, p.fail("error: expected value for argument %s", name)
					}
					return out, p.fail("argument %s: expected one argument", strings.Join(spec.names, "/"))
				}
				next := args[i+1]
				if p.dialect == argparseDialect && strings.HasPrefix(next, "-") && !isNegativeNumber(next) {
					return out, p.fail("argument %s: expected one argument", strings.Join(spec.names, "/"))
				}
				value = next
				i++
			}
			if err := p.checkValue(spec, name, value); err != nil {
				return out, err
			}
			out.values[spec.dest] = value
		case oneOrMore:
			var values []string
			if hasInline {
				values = append(values, inlineValue)
			}
			for !hasInline && i+1 < len(args) && (!strings.HasPrefix(args[i+1], "-") || isNegativeNumber(args[i+1])) {
				values = append(values, args[i+1])
				i++
			}
			if len(values) == 0 {
				return out, p.fail("argument %s: expected at least one argument", strings.Join(spec.names, "/"))
			}
			for _, v := range values {
				if err := p.checkValue(spec, name, v); err != nil {
					return out, err
				}
			}
			out.values[spec.dest] = strings.Join(values, " ")
		}
	}
	if len(unrecognized) > 0 {
		return out, p.fail("unrecognized arguments: %s", strings.Join(unrecognized, " "))
	}
	return out, nil
}
