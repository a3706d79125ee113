package kafka

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// API keys served. Files are named after them.
const (
	keyProduce              int16 = 0
	keyFetch                int16 = 1
	keyListOffsets          int16 = 2
	keyMetadata             int16 = 3
	keyAPIVersions          int16 = 18
	keyCreateTopics         int16 = 19
	keyDeleteTopics         int16 = 20
	keyInitProducerID       int16 = 22
	keyOffsetForLeaderEpoch int16 = 23
	keyDescribeConfigs      int16 = 32
	// Admin APIs (21_delete_records.go …).
	keyDeleteRecords           int16 = 21
	keyAlterConfigs            int16 = 33
	keyDescribeLogDirs         int16 = 35
	keyCreatePartitions        int16 = 37
	keyIncrementalAlterConfigs int16 = 44
	keyDescribeCluster         int16 = 60
	keyDescribeTopicPartitions int16 = 75
	keyUpdateFeatures          int16 = 57
	// Consumer groups (08_offset_commit.go …, groups.go).
	keyOffsetCommit    int16 = 8
	keyOffsetFetch     int16 = 9
	keyFindCoordinator int16 = 10
	keyJoinGroup       int16 = 11
	keyHeartbeat       int16 = 12
	keyLeaveGroup      int16 = 13
	keySyncGroup       int16 = 14
	keyDescribeGroups  int16 = 15
	keyListGroups      int16 = 16
	keyDeleteGroups    int16 = 42
	keyOffsetDelete    int16 = 47
	// KIP-848 consumer groups (68_consumer_group_heartbeat.go, 69_…),
	// listed only while served (Groups.ConsumerProtocol).
	keyConsumerGroupHeartbeat int16 = 68
	keyConsumerGroupDescribe  int16 = 69
	// Cluster membership (45_alter_partition_reassignments.go, 46_…).
	keyElectLeaders                int16 = 43
	keyAlterPartitionReassignments int16 = 45
	keyListPartitionReassignments  int16 = 46
	// Authentication (sasl.go).
	keySASLHandshake    int16 = 17
	keySASLAuthenticate int16 = 36
	// Authorization (29_describe_acls.go …, authz.go).
	keyDescribeACLs int16 = 29
	keyCreateACLs   int16 = 30
	keyDeleteACLs   int16 = 31
)

// handleFunc answers one request; it runs in its own goroutine and must
// return a response of the request's kind at the request's version.
type handleFunc func(ctx context.Context, s *Server, r *request) kmsg.Response

// api is one served API key.
type api struct {
	key      int16
	min, max int16
	// handle answers the request in its own goroutine.
	handle handleFunc
	// begin, set instead of handle, runs synchronously on the connection's
	// reader goroutine, in request order, and returns the rest of the work,
	// which then runs like handle; it returns nil when the request gets no
	// response at all (Produce with acks=0).
	begin func(s *Server, r *request) func(ctx context.Context) kmsg.Response
	// reuseFrame says that no byte slice of the request (records, unknown
	// tags) is used once begin, or handle if there is no begin, returns,
	// so the frame then goes back to the pool (request.releaseFrame).
	// Leave it false when something may keep one: the group coordinator
	// keeps JoinGroup metadata and SyncGroup assignments.
	reuseFrame bool
	// inOrder makes the request take effect in request order among the
	// connection's inOrder requests: its handler starts only once the
	// previous one's has returned (conn.dispatch, conn.run). Kafka handles
	// a connection's requests one at a time and clients rely on it for
	// offsets: sarama commits from one goroutine per partition and
	// pipelines the OffsetCommits on the coordinator's connection, each
	// carrying every offset marked so far, so handled concurrently an
	// older commit could land after a newer one and move the group's
	// offset back (re-delivery after a rebalance). Only the APIs that read
	// or write committed offsets or end a membership or a group are
	// ordered; the rest still run concurrently (JoinGroup and SyncGroup
	// wait for the other members, and what is ordered behind them would
	// wait as long).
	inOrder bool
}

// apis is the table of served keys and versions; ApiVersions advertises
// exactly this. See each API's file for what its versions do.
var apis = []api{
	{key: keyProduce, min: 0, max: 13, begin: beginProduce, reuseFrame: true},
	{key: keyFetch, min: 4, max: 18, handle: handleFetch, reuseFrame: true},
	{key: keyListOffsets, min: 1, max: 11, handle: handleListOffsets},
	{key: keyMetadata, min: 0, max: 13, handle: handleMetadata},
	{key: keyAPIVersions, min: 0, max: 5, handle: handleAPIVersions},
	{key: keyCreateTopics, min: 2, max: 7, handle: handleCreateTopics},
	{key: keyDeleteTopics, min: 1, max: 6, handle: handleDeleteTopics},
	{key: keyInitProducerID, min: 0, max: 5, handle: handleInitProducerID},
	{key: keyOffsetForLeaderEpoch, min: 0, max: 4, handle: handleOffsetForLeaderEpoch},
	{key: keyDescribeConfigs, min: 0, max: 4, handle: handleDescribeConfigs},
	{key: keyDeleteRecords, min: 0, max: 2, handle: handleDeleteRecords},
	{key: keyAlterConfigs, min: 0, max: 2, handle: handleAlterConfigs},
	{key: keyDescribeLogDirs, min: 0, max: 5, handle: handleDescribeLogDirs},
	{key: keyCreatePartitions, min: 0, max: 3, handle: handleCreatePartitions},
	{key: keyIncrementalAlterConfigs, min: 0, max: 1, handle: handleIncrementalAlterConfigs},
	{key: keyDescribeCluster, min: 0, max: 2, handle: handleDescribeCluster},
	{key: keyDescribeTopicPartitions, min: 0, max: 0, handle: handleDescribeTopicPartitions},
	{key: keyUpdateFeatures, min: 0, max: 2, handle: handleUpdateFeatures, inOrder: true},
	{key: keyOffsetCommit, min: 2, max: 10, handle: handleOffsetCommit, inOrder: true},
	{key: keyOffsetFetch, min: 1, max: 10, handle: handleOffsetFetch, inOrder: true},
	{key: keyFindCoordinator, min: 0, max: 6, handle: handleFindCoordinator},
	{key: keyJoinGroup, min: 0, max: 9, handle: handleJoinGroup},
	{key: keyHeartbeat, min: 0, max: 4, handle: handleHeartbeat},
	{key: keyLeaveGroup, min: 0, max: 5, handle: handleLeaveGroup, inOrder: true},
	{key: keySyncGroup, min: 0, max: 5, handle: handleSyncGroup},
	{key: keyDescribeGroups, min: 0, max: 6, handle: handleDescribeGroups},
	{key: keyListGroups, min: 0, max: 5, handle: handleListGroups},
	{key: keyDeleteGroups, min: 0, max: 2, handle: handleDeleteGroups, inOrder: true},
	{key: keyOffsetDelete, min: 0, max: 0, handle: handleOffsetDelete, inOrder: true},
	{key: keyConsumerGroupHeartbeat, min: 0, max: 1, handle: handleConsumerGroupHeartbeat},
	{key: keyConsumerGroupDescribe, min: 0, max: 1, handle: handleConsumerGroupDescribe},
	{key: keyElectLeaders, min: 0, max: 2, handle: handleElectLeaders},
	{key: keyAlterPartitionReassignments, min: 0, max: 1, handle: handleAlterPartitionReassignments},
	{key: keyListPartitionReassignments, min: 0, max: 0, handle: handleListPartitionReassignments},
	{key: keySASLHandshake, min: 0, max: 1, begin: beginSASLHandshake},
	{key: keySASLAuthenticate, min: 0, max: 2, begin: beginSASLAuthenticate},
	{key: keyDescribeProducers, min: 0, max: 0, handle: handleDescribeProducers},
	{key: keyDescribeUserScramCredentials, min: 0, max: 0, handle: handleDescribeUserScramCredentials},
	{key: keyCreateDelegationToken, min: 0, max: 3, handle: handleCreateDelegationToken},
	{key: keyRenewDelegationToken, min: 0, max: 2, handle: handleRenewDelegationToken},
	{key: keyExpireDelegationToken, min: 0, max: 2, handle: handleExpireDelegationToken},
	{key: keyDescribeDelegationToken, min: 0, max: 3, handle: handleDescribeDelegationToken},
	{key: keyAlterUserScramCredentials, min: 0, max: 0, handle: handleAlterUserScramCredentials},
	{key: keyDescribeACLs, min: 0, max: 3, handle: handleDescribeACLs},
	{key: keyCreateACLs, min: 0, max: 3, handle: handleCreateACLs},
	{key: keyDeleteACLs, min: 0, max: 3, handle: handleDeleteACLs},
	{key: keyDescribeClientQuotas, min: 0, max: 1, handle: handleDescribeClientQuotas},
	{key: keyAddPartitionsToTxn, min: 0, max: 3, handle: handleAddPartitionsToTxn, inOrder: true},
	{key: keyAddOffsetsToTxn, min: 0, max: 4, handle: handleAddOffsetsToTxn, inOrder: true},
	{key: keyEndTxn, min: 0, max: 5, handle: handleEndTxn, inOrder: true},
	{key: keyTxnOffsetCommit, min: 0, max: 5, handle: handleTxnOffsetCommit, inOrder: true},
	{key: keyWriteTxnMarkers, min: 0, max: 1, handle: handleWriteTxnMarkers},
	{key: keyDescribeTransactions, min: 0, max: 0, handle: handleDescribeTransactions},
	{key: keyListTransactions, min: 0, max: 2, handle: handleListTransactions},
	{key: keyAlterClientQuotas, min: 0, max: 1, handle: handleAlterClientQuotas},
}

var (
	// apiByKey indexes apis by key; built in init.
	apiByKey []*api
	// advertised is the ApiVersions table, sorted by key; built in init
	// (ApiVersions' handler reads it, so it cannot be initialised from apis
	// directly without an initialisation cycle).
	advertised []kmsg.ApiVersionsResponseApiKey
	// advertisedClassic is advertised without the consumer-group (KIP-848)
	// APIs, for brokers that do not serve them yet.
	advertisedClassic []kmsg.ApiVersionsResponseApiKey
)

func init() {
	var maxKey int16
	for _, a := range apis {
		if a.min > a.max || a.min < 0 {
			panic("kafka: bad version range in api table")
		}
		if (a.handle == nil) == (a.begin == nil) {
			panic("kafka: api needs exactly one of handle and begin")
		}
		if known := kmsg.RequestForKey(a.key).MaxVersion(); a.max > known {
			panic("kafka: api table serves a version kmsg does not know")
		}
		maxKey = max(maxKey, a.key)
	}
	apiByKey = make([]*api, maxKey+1)
	for i := range apis {
		a := &apis[i]
		if apiByKey[a.key] != nil {
			panic("kafka: api key registered twice")
		}
		apiByKey[a.key] = a
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = a.key, a.min, a.max
		advertised = append(advertised, k)
	}
	sort.Slice(advertised, func(i, j int) bool { return advertised[i].ApiKey < advertised[j].ApiKey })
	for _, k := range advertised {
		if k.ApiKey != keyConsumerGroupHeartbeat && k.ApiKey != keyConsumerGroupDescribe {
			advertisedClassic = append(advertisedClassic, k)
		}
	}
	initMetricAttrs()
}

// lookupAPI returns the served API for key, or nil.
func lookupAPI(key int16) *api {
	if key < 0 || int(key) >= len(apiByKey) {
		return nil
	}
	return apiByKey[key]
}
