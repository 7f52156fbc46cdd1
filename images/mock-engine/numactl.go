// numactl shim: validates numactl's own options the way numactl(8) would and
// then execs the wrapped command, so `numactl --interleave=all ktransformers ...`
// in a chart runs unchanged against the multi-call binary.
package main

import (
	"fmt"
	"regexp"
	"strings"
)

// nodeSpec accepts numactl node/CPU lists: all, 0, 0-3, 0,2, +1, !0-1.
var nodeSpec = regexp.MustCompile(`^(all|[!+]?\d+(-\d+)?(,\d+(-\d+)?)*)$`)

// numactlOptionsWithValue maps every short and long option taking a node/CPU list.
var numactlOptionsWithValue = map[string]bool{
	"--interleave": true, "-i": true, "--cpunodebind": true, "-N": true, "--membind": true, "-m": true,
	"--physcpubind": true, "-C": true, "--preferred": true, "-p": true, "--preferred-many": true, "-P": true,
	"--weighted-interleave": true, "-w": true,
}

var numactlSwitches = map[string]bool{"--localalloc": true, "-l": true, "--all": true, "-a": true, "--balancing": true, "-b": true}

// numactlCommand returns the command numactl would run, or a numactl-style error.
func numactlCommand(args []string) ([]string, error) {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") {
			return args[i:], nil
		}
		if arg == "--" {
			if i+1 < len(args) {
				return args[i+1:], nil
			}
			break
		}
		if numactlSwitches[arg] {
			continue
		}
		name, value, inline := strings.Cut(arg, "=")
		if !numactlOptionsWithValue[name] {
			return nil, fmt.Errorf("numactl: unrecognized option '%s'", arg)
		}
		if !inline {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("numactl: option '%s' requires an argument", name)
			}
			i++
			value = args[i]
		}
		if !nodeSpec.MatchString(value) {
			return nil, fmt.Errorf("<%s> is invalid", value)
		}
	}
	return nil, fmt.Errorf("usage: numactl [--all | -a] [--interleave= | -i <nodes>] [--cpunodebind= | -N <nodes>] [--membind= | -m <nodes>] command args ...")
}
