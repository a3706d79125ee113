package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The error= attribute of chronik_kafka_requests sees the errors of the
// admin APIs too, wherever each response keeps them.
func TestFirstErrorCode(t *testing.T) {
	denied := kerr.ClusterAuthorizationFailed.Code
	createACLs := kmsg.NewPtrCreateACLsResponse()
	createACLs.Results = []kmsg.CreateACLsResponseResult{{}, {ErrorCode: denied}}
	alterQuotas := kmsg.NewPtrAlterClientQuotasResponse()
	alterQuotas.Entries = []kmsg.AlterClientQuotasResponseEntry{{ErrorCode: denied}}
	describeScram := kmsg.NewPtrDescribeUserSCRAMCredentialsResponse()
	describeScram.Results = []kmsg.DescribeUserSCRAMCredentialsResponseResult{{ErrorCode: kerr.ResourceNotFound.Code}}
	elect := kmsg.NewPtrElectLeadersResponse()
	elect.ErrorCode = denied
	for resp, want := range map[kmsg.Response]int16{
		createACLs:                        denied,
		alterQuotas:                       denied,
		describeScram:                     kerr.ResourceNotFound.Code,
		elect:                             denied,
		kmsg.NewPtrDescribeACLsResponse(): 0,
	} {
		if got := firstErrorCode(resp); got != want {
			t.Errorf("%T: %d, want %d", resp, got, want)
		}
	}
}
