// helm-batch: the official Helm CLI (helm.sh/helm/v4/pkg/cmd, the code the `helm` binary runs),
// executed once per request inside one long-lived process, so that synth pays Go's and Helm's
// start-up once instead of once per bundle.
//
// Protocol (stdin/stdout, one JSON object per line): a request is {"args": ["template", ...]};
// the answer, in request order, is {"stdout": "...", "stderr": "...", "exit": 0}. stdout is exactly
// what `helm <args>` writes to stdout; a failed command has exit != 0 and Helm's error in stderr,
// as the binary prints it ("Error: ...").
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	// As cmd/helm/helm.go: initialise client-go's auth plugins (same build as the binary).
	_ "k8s.io/client-go/plugin/pkg/client/auth"

	helmcmd "helm.sh/helm/v4/pkg/cmd"
	"helm.sh/helm/v4/pkg/kube"
)

type request struct {
	Args []string `json:"args"`
}

type answer struct {
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	Exit   int    `json:"exit"`
}

// run is cmd/helm/helm.go's main, with stdout captured and the exit code returned.
func run(args []string) answer {
	var out bytes.Buffer
	cmd, err := helmcmd.NewRootCmd(&out, args, helmcmd.SetupLogging)
	if err != nil {
		return answer{Stderr: fmt.Sprintf("command failed: %v\n", err), Exit: 1}
	}
	var errOut bytes.Buffer
	cmd.SetArgs(args) // the binary's Execute reads os.Args[1:]; here each request brings its own
	cmd.SetErr(&errOut)
	if err := cmd.Execute(); err != nil {
		exit := 1
		if cerr, ok := err.(helmcmd.CommandError); ok {
			exit = cerr.ExitCode
		}
		return answer{Stdout: out.String(), Stderr: errOut.String(), Exit: exit}
	}
	return answer{Stdout: out.String(), Stderr: errOut.String()}
}

func main() {
	kube.ManagedFieldsManager = "helm"
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var req request
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			fmt.Fprintf(os.Stderr, "helm-batch: bad request: %v\n", err)
			os.Exit(2)
		}
		if err := out.Encode(run(req.Args)); err != nil {
			os.Exit(2)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "helm-batch: %v\n", err)
		os.Exit(2)
	}
}
