// Command benchratio reads measurements taken in rounds, one per line as
// "round name value" (blank-separated), and prints for each name the median
// of its values and the median over the rounds of its ratio to each base
// taken in the same round:
//
//	benchratio -base bare,floor -pair tenancy-limited/tenancy-service < results.txt
//
// A ratio taken within a round compares measurements made minutes apart
// at most, under the same load; its median over rounds is what the
// benchmark scripts of this directory report.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	base := flag.String("base", "bare", "comma-separated names each value is divided by, round by round")
	var pairs multi
	flag.Var(&pairs, "pair", "a/b: also report the median of a/b over the rounds (repeatable)")
	unit := flag.String("unit", "ns/op", "the unit of the values, for the table's header")
	flag.Parse()
	rounds, names, err := read(os.Stdin)
	if err != nil {
		log.Fatal(err)
	}
	bases := strings.Split(*base, ",")
	fmt.Printf("%d rounds\n\n| peer | median %s |", len(rounds), *unit)
	for _, b := range bases {
		fmt.Printf(" ratio to %s |", b)
	}
	fmt.Print("\n|---|---:|")
	for range bases {
		fmt.Print("---:|")
	}
	fmt.Println()
	for _, n := range names {
		fmt.Printf("| %s | %s |", n, format(median(values(rounds, n))))
		for _, b := range bases {
			fmt.Printf(" %s |", format(median(ratios(rounds, n, b))))
		}
		fmt.Println()
	}
	for _, p := range pairs {
		a, b, ok := strings.Cut(p, "/")
		if !ok {
			log.Fatalf("benchratio: -pair %q is not a/b", p)
		}
		r := ratios(rounds, a, b)
		fmt.Printf("\n%s / %s: median %s over %d rounds (each: %s)\n", a, b, format(median(r)), len(r), formatAll(r))
	}
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

// read returns the values of each round by name, and the names in the
// order they first appear.
func read(r io.Reader) (map[string]map[string]float64, []string, error) {
	rounds := map[string]map[string]float64{}
	var names []string
	s := bufio.NewScanner(r)
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, nil, fmt.Errorf("benchratio: want \"round name value\", got %q", s.Text())
		}
		v, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			return nil, nil, fmt.Errorf("benchratio: %q: %w", s.Text(), err)
		}
		if rounds[f[0]] == nil {
			rounds[f[0]] = map[string]float64{}
		}
		if !slices.Contains(names, f[1]) {
			names = append(names, f[1])
		}
		rounds[f[0]][f[1]] = v
	}
	return rounds, names, s.Err()
}

func values(rounds map[string]map[string]float64, name string) []float64 {
	var v []float64
	for _, r := range rounds {
		if x, ok := r[name]; ok {
			v = append(v, x)
		}
	}
	return v
}

// ratios returns a/b for every round that measured both, in round order.
func ratios(rounds map[string]map[string]float64, a, b string) []float64 {
	keys := make([]string, 0, len(rounds))
	for k := range rounds {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y string) int {
		xi, _ := strconv.Atoi(x)
		yi, _ := strconv.Atoi(y)
		return xi - yi
	})
	var v []float64
	for _, k := range keys {
		x, okx := rounds[k][a]
		y, oky := rounds[k][b]
		if okx && oky && y != 0 {
			v = append(v, x/y)
		}
	}
	return v
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func format(x float64) string {
	switch {
	case x >= 1000:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case x >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strconv.FormatFloat(x, 'f', 3, 64)
}

func formatAll(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = format(x)
	}
	return strings.Join(s, " ")
}
