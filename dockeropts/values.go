package dockeropts

import (
	"fmt"
	"math/big"
	"strconv"

	"github.com/docker/go-units"
)

// pflag values with the docker CLI's value semantics.

// memBytes is a size in bytes written as docker takes it: "512m", "1g",
// "1024" (opts.MemBytes).
type memBytes int64

func (m *memBytes) Set(v string) error {
	n, err := units.RAMInBytes(v)
	if err != nil {
		return err
	}
	*m = memBytes(n)
	return nil
}
func (m *memBytes) String() string { return strconv.FormatInt(int64(*m), 10) }
func (m *memBytes) Type() string   { return "bytes" }

// memSwap is memBytes that also takes -1 (unlimited swap).
type memSwap int64

func (m *memSwap) Set(v string) error {
	if v == "-1" {
		*m = -1
		return nil
	}
	n, err := units.RAMInBytes(v)
	if err != nil {
		return err
	}
	*m = memSwap(n)
	return nil
}
func (m *memSwap) String() string { return strconv.FormatInt(int64(*m), 10) }
func (m *memSwap) Type() string   { return "bytes" }

// nanoCPUs is a decimal number of CPUs in billionths of a CPU ("1.5").
type nanoCPUs int64

func (c *nanoCPUs) Set(v string) error {
	r, ok := new(big.Rat).SetString(v)
	if !ok {
		return fmt.Errorf("failed to parse %v as a rational number", v)
	}
	n := r.Mul(r, big.NewRat(1e9, 1))
	if !n.IsInt() {
		return fmt.Errorf("value is too precise")
	}
	if n.Sign() < 0 || !n.Num().IsInt64() {
		return fmt.Errorf("value is out of range")
	}
	*c = nanoCPUs(n.Num().Int64())
	return nil
}
func (c *nanoCPUs) String() string { return strconv.FormatInt(int64(*c), 10) }
func (c *nanoCPUs) Type() string   { return "decimal" }

// ulimits collects --ulimit name=soft[:hard] values.
type ulimits []*units.Ulimit

func (u *ulimits) Set(v string) error {
	l, err := units.ParseUlimit(v)
	if err != nil {
		return err
	}
	for i, old := range *u {
		if old.Name == l.Name { // a later value for a name wins, as in docker
			(*u)[i] = l
			return nil
		}
	}
	*u = append(*u, l)
	return nil
}
func (u *ulimits) String() string { return fmt.Sprint([]*units.Ulimit(*u)) }
func (u *ulimits) Type() string   { return "ulimit" }
