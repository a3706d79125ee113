package acl

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkAuthorize is one uncached decision (the Kafka listener caches
// them per connection) among n bindings of other principals: n/2 literal,
// n/2 prefixed, which Authorize scans.
func BenchmarkAuthorize(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("bindings=%d", n), func(b *testing.B) {
			bindings := []Binding{{
				ResourceType: kmsg.ACLResourceTypeTopic, ResourceName: "orders", PatternType: kmsg.ACLResourcePatternTypeLiteral,
				Principal: "User:alice", Host: Wildcard, Operation: kmsg.ACLOperationWrite, Permission: kmsg.ACLPermissionTypeAllow,
			}}
			for i := range n {
				pattern := kmsg.ACLResourcePatternTypeLiteral
				if i%2 == 1 {
					pattern = kmsg.ACLResourcePatternTypePrefixed
				}
				bindings = append(bindings, Binding{
					ResourceType: kmsg.ACLResourceTypeTopic, ResourceName: fmt.Sprintf("t%d-", i), PatternType: pattern,
					Principal: fmt.Sprintf("User:u%d", i), Host: Wildcard, Operation: kmsg.ACLOperationRead, Permission: kmsg.ACLPermissionTypeAllow,
				})
			}
			s := NewSet(bindings)
			r := Request{Principal: "User:alice", Host: "10.0.0.1", Operation: kmsg.ACLOperationWrite, ResourceType: kmsg.ACLResourceTypeTopic, Name: "orders"}
			b.ReportAllocs()
			for b.Loop() {
				if !s.Authorize(r, false) {
					b.Fatal("denied")
				}
			}
		})
	}
}
