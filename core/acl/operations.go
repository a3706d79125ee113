package acl

import "github.com/twmb/franz-go/pkg/kmsg"

// Operations returns the operations that apply to resource type rt (ALL
// aside); the caller must not modify it.
func Operations(rt kmsg.ACLResourceType) []kmsg.ACLOperation { return supported[rt] }

// OperationBits is the bit field of ops as Kafka's "authorized operations"
// fields carry it (bit n set: operation n allowed).
func OperationBits(ops []kmsg.ACLOperation) int32 {
	var bits int32
	for _, op := range ops {
		bits |= 1 << op
	}
	return bits
}
