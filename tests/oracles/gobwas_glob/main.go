// Oracle for engine/gobglob.py: github.com/gobwas/glob Compile(pattern) without separators.
// Reads JSON lines {"p": pattern, "s": [subjects...]} on stdin and writes one JSON line each:
// {"e": compile error or "", "m": [true|false|null]} where null means Match panicked.
package main

import (
	"bufio"
	"encoding/json"
	"os"

	"github.com/gobwas/glob"
)

type query struct {
	P string   `json:"p"`
	S []string `json:"s"`
}

type answer struct {
	E string  `json:"e"`
	M []*bool `json:"m"`
}

func match(g glob.Glob, s string) (result *bool) {
	defer func() {
		if recover() != nil {
			result = nil
		}
	}()
	m := g.Match(s)
	return &m
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	for in.Scan() {
		var q query
		if err := json.Unmarshal(in.Bytes(), &q); err != nil {
			panic(err)
		}
		a := answer{M: []*bool{}}
		g, err := glob.Compile(q.P)
		if err != nil {
			a.E = err.Error()
		} else {
			for _, s := range q.S {
				a.M = append(a.M, match(g, s))
			}
		}
		if err := enc.Encode(a); err != nil {
			panic(err)
		}
		out.Flush()
	}
}
