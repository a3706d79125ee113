package cluster

import (
	"errors"
	"maps"
	"testing"
)

func TestApplyConfigOps(t *testing.T) {
	cur := map[string]string{"retention.ms": "5", "cleanup.policy": "compact"}
	cases := []struct {
		name string
		cur  map[string]string
		ops  []ConfigOp
		want map[string]string
		err  error
	}{
		{
			"set and delete", cur,
			[]ConfigOp{{Name: "segment.ms", Value: "10"}, {Name: "retention.ms", Op: ConfigOpDelete}},
			map[string]string{"cleanup.policy": "compact", "segment.ms": "10"},
			nil,
		},
		{
			"append onto the default", nil,
			[]ConfigOp{{Name: "cleanup.policy", Op: ConfigOpAppend, Value: "compact"}},
			map[string]string{"cleanup.policy": "delete,compact"},
			nil,
		},
		{
			"append present item", cur,
			[]ConfigOp{{Name: "cleanup.policy", Op: ConfigOpAppend, Value: "compact, delete"}},
			map[string]string{"retention.ms": "5", "cleanup.policy": "compact,delete"},
			nil,
		},
		{
			"subtract",
			map[string]string{"cleanup.policy": "compact,delete"},
			[]ConfigOp{{Name: "cleanup.policy", Op: ConfigOpSubtract, Value: "compact"}},
			map[string]string{"cleanup.policy": "delete"},
			nil,
		},
		{
			"subtract from empty list default", nil,
			[]ConfigOp{{Name: "leader.replication.throttled.replicas", Op: ConfigOpSubtract, Value: "0:1"}},
			map[string]string{"leader.replication.throttled.replicas": ""},
			nil,
		},
		{
			"ops apply in order", nil,
			[]ConfigOp{{Name: "retention.ms", Value: "1"}, {Name: "retention.ms", Op: ConfigOpDelete}},
			map[string]string{},
			nil,
		},
		{"unknown key", cur, []ConfigOp{{Name: "no.such", Op: ConfigOpDelete}}, nil, ErrInvalidConfig},
		{"append to a non-list", cur, []ConfigOp{{Name: "retention.ms", Op: ConfigOpAppend, Value: "1"}}, nil, ErrInvalidConfig},
		{"unknown op", cur, []ConfigOp{{Name: "retention.ms", Op: 7}}, nil, ErrInvalidConfig},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := maps.Clone(c.cur)
			got, err := ApplyConfigOps(c.cur, c.ops)
			if !errors.Is(err, c.err) || (c.err == nil && !maps.Equal(got, c.want)) {
				t.Fatalf("got %v, %v; want %v, %v", got, err, c.want, c.err)
			}
			if !maps.Equal(c.cur, before) {
				t.Fatal("the current configs were modified")
			}
		})
	}
}
