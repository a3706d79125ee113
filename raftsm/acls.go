package raftsm

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	sm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/acl"
)

// Access control lists on the meta shard (Kafka's CreateAcls, DescribeAcls
// and DeleteAcls): the bindings the Kafka listener authorizes requests
// with, the same on every broker.
//
// Key schema, after the meta shard prefix: 'A' binding → aclRecordVersion.
// The binding is the key (encodeBinding), so a binding is stored once
// however often it is created, and the value holds nothing else.
const keyACL = 'A'

// aclRecordVersion is the value of every ACL key.
const aclRecordVersion = 1

const (
	cmdCreateACLs byte = 41 // meta: add the bindings that are missing
	cmdDeleteACLs byte = 42 // meta: remove what filters select, atomically
)

// EncodeCreateACLs encodes the creation of bindings. Applying it adds those
// the meta shard lacks; if one of them is invalid (acl.Binding.Validate)
// none is added and the result is StatusMalformed. Applying it twice is
// the same as once.
func EncodeCreateACLs(bindings []acl.Binding) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(cmdCreateACLs)
	e.uvarint(uint64(len(bindings)))
	for _, b := range bindings {
		encodeBinding(&e, b)
	}
	return e.b
}

// EncodeDeleteACLs encodes the deletion of every binding that one of
// filters selects. The state machine matches and deletes in one step, so
// no binding created concurrently survives a filter that selects it half
// way; the result's Data holds what was deleted (DecodeDeletedACLs). An
// invalid filter (acl.Filter.Validate) deletes nothing: StatusMalformed.
func EncodeDeleteACLs(filters []acl.Filter) []byte {
	e := enc{}
	e.u8(commandVersion)
	e.u8(cmdDeleteACLs)
	e.uvarint(uint64(len(filters)))
	for _, f := range filters {
		encodeFilter(&e, f)
	}
	return e.b
}

// DecodeDeletedACLs decodes the Data of a deletion's result: the bindings
// deleted, per filter in the command's order. A binding that several
// filters selected is listed under each (as Kafka's DeleteAcls answers).
// A result with a status other than StatusOK is an error naming it.
func DecodeDeletedACLs(data []byte) ([][]acl.Binding, error) {
	if st := ResultStatus(data); st != StatusOK {
		return nil, fmt.Errorf("raftsm: delete ACLs: %s", st)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("raftsm: delete ACLs: %w: empty result", errShortCommand)
	}
	d := dec{b: data[1:]}
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = errShortCommand
	}
	out := make([][]acl.Binding, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		out = append(out, decodeBindings(&d))
	}
	if d.err != nil {
		return nil, fmt.Errorf("raftsm: delete ACLs result: %w", d.err)
	}
	return out, nil
}

func encodeBinding(e *enc, b acl.Binding) {
	e.u8(byte(b.ResourceType))
	e.u8(byte(b.PatternType))
	e.u8(byte(b.Operation))
	e.u8(byte(b.Permission))
	e.str(b.ResourceName)
	e.str(b.Principal)
	e.str(b.Host)
}

func decodeBinding(d *dec) acl.Binding {
	return acl.Binding{
		ResourceType: kmsg.ACLResourceType(d.u8()),
		PatternType:  kmsg.ACLResourcePatternType(d.u8()),
		Operation:    kmsg.ACLOperation(d.u8()),
		Permission:   kmsg.ACLPermissionType(d.u8()),
		ResourceName: d.str(),
		Principal:    d.str(),
		Host:         d.str(),
	}
}

// decodeBindings reads a count and as many bindings.
func decodeBindings(d *dec) []acl.Binding {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = errShortCommand
	}
	out := make([]acl.Binding, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		out = append(out, decodeBinding(d))
	}
	return out
}

func encodeFilter(e *enc, f acl.Filter) {
	e.u8(byte(f.ResourceType))
	e.u8(byte(f.PatternType))
	e.u8(byte(f.Operation))
	e.u8(byte(f.Permission))
	for _, s := range []*string{f.ResourceName, f.Principal, f.Host} {
		if s == nil {
			e.u8(0)
			continue
		}
		e.u8(1)
		e.str(*s)
	}
}

func decodeFilter(d *dec) acl.Filter {
	f := acl.Filter{
		ResourceType: kmsg.ACLResourceType(d.u8()),
		PatternType:  kmsg.ACLResourcePatternType(d.u8()),
		Operation:    kmsg.ACLOperation(d.u8()),
		Permission:   kmsg.ACLPermissionType(d.u8()),
	}
	for _, s := range []**string{&f.ResourceName, &f.Principal, &f.Host} {
		switch d.u8() {
		case 0:
		case 1:
			v := d.str()
			*s = &v
		default:
			if d.err == nil {
				d.err = errShortCommand
			}
		}
	}
	return f
}

func (m *Meta) aclKey(b acl.Binding) []byte {
	e := enc{b: m.key(keyACL, "")}
	encodeBinding(&e, b)
	return e.b
}

// applyCreateACLs adds the command's bindings that m.acls lacks, all or
// none. It reports a change only when it added one, so that the published
// *acl.Set stays the same otherwise.
func (m *Meta) applyCreateACLs(b *pebble.Batch, d *dec) (sm.Result, bool) {
	bindings := decodeBindings(d)
	if d.err != nil {
		return sm.Result{Data: statusData[StatusMalformed]}, false
	}
	for _, x := range bindings {
		if x.Validate() != nil {
			return sm.Result{Data: statusData[StatusMalformed]}, false
		}
	}
	var added []acl.Binding
	for _, x := range bindings {
		if m.acls.Contains(x) {
			continue
		}
		added = append(added, x) // a duplicate within the command is written twice, stored once
		_ = b.Set(m.aclKey(x), []byte{aclRecordVersion}, nil)
	}
	if len(added) == 0 {
		return sm.Result{}, false
	}
	m.acls = acl.NewSet(append(added, m.acls.Bindings()...))
	return sm.Result{}, true
}

// applyDeleteACLs deletes every binding one of the command's filters
// selects and answers them per filter.
func (m *Meta) applyDeleteACLs(b *pebble.Batch, d *dec) (sm.Result, bool) {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = errShortCommand
	}
	filters := make([]acl.Filter, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		filters = append(filters, decodeFilter(d))
	}
	if d.err != nil {
		return sm.Result{Data: statusData[StatusMalformed]}, false
	}
	for _, f := range filters {
		if f.Validate() != nil {
			return sm.Result{Data: statusData[StatusMalformed]}, false
		}
	}
	e := enc{}
	e.u8(byte(StatusOK))
	e.uvarint(uint64(len(filters)))
	gone := map[acl.Binding]bool{}
	for _, f := range filters {
		matched := m.acls.Match(f)
		e.uvarint(uint64(len(matched)))
		for _, x := range matched {
			encodeBinding(&e, x)
			gone[x] = true
		}
	}
	if len(gone) == 0 {
		return sm.Result{Data: e.b}, false
	}
	kept := make([]acl.Binding, 0, m.acls.Len()-len(gone))
	for _, x := range m.acls.Bindings() {
		if gone[x] {
			_ = b.Delete(m.aclKey(x), nil)
			continue
		}
		kept = append(kept, x)
	}
	m.acls = acl.NewSet(kept)
	return sm.Result{Data: e.b}, true
}

func (m *Meta) loadACLs() error {
	lo, hi := m.key(keyACL, ""), m.key(keyACL+1, "")
	it, err := m.store.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer it.Close()
	var bindings []acl.Binding
	for ok := it.First(); ok; ok = it.Next() {
		d := dec{b: it.Key()[len(lo):]}
		x := decodeBinding(&d)
		if d.err != nil || len(d.b) != 0 {
			return fmt.Errorf("raftsm: meta: corrupt ACL key %x", it.Key())
		}
		bindings = append(bindings, x)
	}
	if err := it.Error(); err != nil {
		return err
	}
	m.acls = acl.NewSet(bindings)
	return nil
}
