// mock-engine is a busybox-style multi-call binary that stands in for the LLM
// engines in e2e tests: the name it is invoked as (ktransformers, vllm,
// python3 -m sglang.launch_server, llama-server, numactl) selects the engine,
// so the charts' real command lines run unchanged. It reproduces each engine's
// observable startup and health behaviour (see README.md), not its inference.
package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

func main() {
	os.Exit(dispatch(os.Args, os.Getenv, os.Stdout, os.Stderr))
}

const usageText = `usage: mock-engine <ktransformers|vllm|llama-server|python3|numactl> [args...]
or invoke it through a symlink with one of those names.`

func dispatch(argv []string, getenv func(string) string, stdout, stderr io.Writer) int {
	name, args := filepath.Base(argv[0]), argv[1:]
	if name == "mock-engine" {
		if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
			fmt.Fprintln(stderr, usageText)
			return 2
		}
		name, args = args[0], args[1:]
	}
	switch name {
	case "ktransformers":
		return runEngine(ktransformersEngine(), args, getenv, stdout, stderr)
	case "vllm":
		if len(args) == 0 || args[0] != "serve" {
			fmt.Fprintln(stderr, "usage: vllm <command> [options]\nvllm: error: the mock supports only `vllm serve`")
			return 2
		}
		return runEngine(vllmEngine(), args[1:], getenv, stdout, stderr)
	case "llama-server":
		return runEngine(llamaEngine(), args, getenv, stdout, stderr)
	case "python3", "python":
		return pythonShim(name, args, getenv, stdout, stderr)
	case "numactl":
		command, err := numactlCommand(args)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return execCommand(command, stderr)
	}
	fmt.Fprintf(stderr, "mock-engine: unknown engine %q\n%s\n", name, usageText)
	return 127
}

// pythonShim understands only the interpreter invocations the charts use:
// `python3 -m sglang.launch_server ...` and the KTransformers server module/script.
func pythonShim(name string, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	for len(args) > 0 && (args[0] == "-u" || args[0] == "-B" || args[0] == "-O") {
		args = args[1:]
	}
	switch {
	case len(args) >= 2 && args[0] == "-m":
		switch args[1] {
		case "sglang.launch_server":
			return runEngine(sglangEngine(), args[2:], getenv, stdout, stderr)
		case "ktransformers.server.main":
			return runEngine(ktransformersEngine(), args[2:], getenv, stdout, stderr)
		}
		fmt.Fprintf(stderr, "/usr/bin/%s: No module named %s\n", name, args[1])
		return 1
	case len(args) >= 1 && strings.HasSuffix(args[0], "ktransformers/server/main.py"):
		return runEngine(ktransformersEngine(), args[1:], getenv, stdout, stderr)
	}
	fmt.Fprintf(stderr, "mock-engine: the %s shim only runs -m sglang.launch_server or the KTransformers server\n", name)
	return 2
}

// execCommand replaces this process, like numactl does after setting the policy.
func execCommand(command []string, stderr io.Writer) int {
	path, err := exec.LookPath(command[0])
	if err != nil {
		fmt.Fprintf(stderr, "numactl: execution of `%s': No such file or directory\n", command[0])
		return 1
	}
	err = syscall.Exec(path, command, os.Environ())
	fmt.Fprintf(stderr, "numactl: execution of `%s': %v\n", command[0], err)
	return 1
}
