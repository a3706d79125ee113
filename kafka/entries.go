package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// entryErrors sets the error of entry i of a response answered entry by
// entry, each entry validated on its own and the valid ones applied in one
// store call (CreateAcls, DeleteAcls, AlterClientQuotas).
type entryErrors func(i int, code int16, msg *string)

// all gives each of n entries the error; a denied or unserved request.
func (set entryErrors) all(n int, code int16, msg string) {
	for i := range n {
		set(i, code, &msg)
	}
}

// failed gives the entries at the error of the store call that was to
// apply them.
func (set entryErrors) failed(s *Server, api string, at []int, err error) {
	code, msg := s.errCode(api, err), errMessage(err)
	for _, i := range at {
		set(i, code, msg)
	}
}

// validEntries parses each of n entries; one parse refuses gets
// INVALID_REQUEST, its message what and the error. It returns the others
// and the index of each.
func validEntries[T any](n int, set entryErrors, what string, parse func(i int) (T, error)) (valid []T, at []int) {
	for i := range n {
		v, err := parse(i)
		if err != nil {
			set(i, kerr.InvalidRequest.Code, kmsg.StringPtr(what+err.Error()))
			continue
		}
		valid, at = append(valid, v), append(at, i)
	}
	return valid, at
}

// mayAlterACLs reports whether r's principal may create or delete ACLs
// (api names the request): there must be ACLs, and ALTER on the cluster.
// If not, each of the n entries gets the reason.
func (s *Server) mayAlterACLs(r *request, api string, n int, set entryErrors) bool {
	switch {
	case !s.aclsEnabled():
		set.all(n, kerr.SecurityDisabled.Code, noAuthorizer)
		return false
	case !s.authorizedCluster(r, kmsg.ACLOperationAlter):
		set.all(n, kerr.ClusterAuthorizationFailed.Code, r.principal+" may not ALTER the cluster, which "+api+" needs")
		return false
	}
	return true
}
