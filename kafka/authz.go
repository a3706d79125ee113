package kafka

import (
	"context"
	"net"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/core/acl"
)

// ACLStore keeps the cluster's access control lists, the same on every
// broker (core/cluster: the meta shard). With Config.ACLs set, every
// request is authorized against them the way Kafka's StandardAuthorizer
// does (core/acl) and denials are answered with the API's
// *_AUTHORIZATION_FAILED codes.
type ACLStore interface {
	// ACLs returns the current bindings: the same *acl.Set until they
	// change, so that decisions can be cached against it.
	ACLs() *acl.Set
	// CreateACLs adds the bindings; one that exists already is not an
	// error.
	CreateACLs(ctx context.Context, bindings []acl.Binding) error
	// DeleteACLs removes, atomically, every binding each filter selects
	// and returns them per filter.
	DeleteACLs(ctx context.Context, filters []acl.Filter) ([][]acl.Binding, error)
}

// aclsEnabled reports whether requests are authorized against ACLs.
func (s *Server) aclsEnabled() bool { return s.cfg.ACLs != nil }

// superUser reports whether principal is in Config.SuperUsers, who may do
// everything (and, without ACLs, alone manage SCRAM credentials).
func (s *Server) superUser(principal string) bool {
	return slices.Contains(s.cfg.SuperUsers, principal)
}

// authorized reports whether r's principal, from r's connection's host, may
// do op on the resource of type rt named name. Without ACLs it is always
// true.
func (s *Server) authorized(r *request, op kmsg.ACLOperation, rt kmsg.ACLResourceType, name string) bool {
	if s.cfg.ACLs == nil {
		return true
	}
	set := s.cfg.ACLs.ACLs()
	if r.conn == nil {
		return s.decide(set, acl.Request{Principal: r.principal, Operation: op, ResourceType: rt, Name: name})
	}
	return r.conn.authz.decide(s, set, acl.Request{Principal: r.principal, Host: r.conn.host, Operation: op, ResourceType: rt, Name: name})
}

// authorizedCluster is authorized on the cluster resource.
func (s *Server) authorizedCluster(r *request, op kmsg.ACLOperation) bool {
	return s.authorized(r, op, kmsg.ACLResourceTypeCluster, acl.ClusterName)
}

// authorizedAny reports whether r's principal may do op on some resource
// of type rt (acl.Set.AuthorizeAny).
func (s *Server) authorizedAny(r *request, op kmsg.ACLOperation, rt kmsg.ACLResourceType) bool {
	if s.cfg.ACLs == nil || s.superUser(r.principal) {
		return true
	}
	var host string
	if r.conn != nil {
		host = r.conn.host
	}
	return s.cfg.ACLs.ACLs().AuthorizeAny(acl.Request{Principal: r.principal, Host: host, Operation: op, ResourceType: rt}, s.cfg.AllowIfNoACL)
}

func (s *Server) decide(set *acl.Set, req acl.Request) bool {
	return s.superUser(req.Principal) || set.Authorize(req, s.cfg.AllowIfNoACL)
}

// authzCache remembers a connection's decisions while the ACLs stay the
// same: its principal and host do not change once it has authenticated
// (the principal is part of the key all the same), so a produce asks
// once per topic and not once per request.
type authzCache struct {
	mu        sync.Mutex
	set       *acl.Set
	decisions map[authzKey]bool
}

type authzKey struct {
	principal string
	op        kmsg.ACLOperation
	rt        kmsg.ACLResourceType
	name      string
}

// maxCachedDecisions bounds a connection's cache; it starts over when full.
const maxCachedDecisions = 4096

func (c *authzCache) decide(s *Server, set *acl.Set, req acl.Request) bool {
	k := authzKey{req.Principal, req.Operation, req.ResourceType, req.Name}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.set != set || len(c.decisions) >= maxCachedDecisions {
		c.set, c.decisions = set, make(map[authzKey]bool)
	}
	ok, hit := c.decisions[k]
	if !hit {
		ok = s.decide(set, req)
		c.decisions[k] = ok
	}
	return ok
}

// hostOf is the IP address of a connection's peer, as ACLs name hosts.
func hostOf(addr net.Addr) string {
	if a, ok := addr.(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}

// authorizedOperations is the bit field of the operations r's principal may
// do on the resource (Kafka's *AuthorizedOperations fields, KIP-430).
func (s *Server) authorizedOperations(r *request, rt kmsg.ACLResourceType, name string) int32 {
	var ops []kmsg.ACLOperation
	for _, op := range acl.Operations(rt) {
		if s.authorized(r, op, rt, name) {
			ops = append(ops, op)
		}
	}
	return acl.OperationBits(ops)
}

// mayCreateTopic reports whether r's principal may create the topic name:
// CREATE on the cluster or on the topic.
func (s *Server) mayCreateTopic(r *request, name string) bool {
	return s.authorizedCluster(r, kmsg.ACLOperationCreate) ||
		s.authorized(r, kmsg.ACLOperationCreate, kmsg.ACLResourceTypeTopic, name)
}
