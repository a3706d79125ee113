package opsctl_test

import (
	"reflect"
	"testing"

	"github.com/chronik-go/chronik/core/opsctl"
	"github.com/chronik-go/chronik/core/quota"
)

// quotaReports are rendered like reports (render_test.go), against
// testdata/NAME.table and testdata/NAME.json.
var quotaReports = []namedReport{
	{"quota_list", &opsctl.QuotaList{Quotas: []opsctl.Quota{
		{ClientID: &opsctl.QuotaPart{Default: true}, Quotas: map[string]float64{quota.ConsumerByteRate: 1 << 30}},
		{ClientID: &opsctl.QuotaPart{Name: ptr("etl")}, Quotas: map[string]float64{quota.ProducerByteRate: 1500, quota.ConsumerByteRate: 10.5}},
		{User: &opsctl.QuotaPart{Default: true}, Quotas: map[string]float64{quota.ProducerByteRate: 10 << 20}},
		{User: &opsctl.QuotaPart{Name: ptr("alice")}, Quotas: map[string]float64{quota.ProducerByteRate: 3 << 10, quota.ConsumerByteRate: 5 << 20, quota.ControllerMutationRate: 0.5}},
		{User: &opsctl.QuotaPart{Name: ptr("alice")}, ClientID: &opsctl.QuotaPart{Default: true}, Quotas: map[string]float64{quota.ConsumerByteRate: 1536}},
		{User: &opsctl.QuotaPart{Name: ptr("bob")}, Quotas: map[string]float64{quota.ControllerMutationRate: 10}},
	}}},
	{"quota_list_empty", &opsctl.QuotaList{Quotas: []opsctl.Quota{}}},
	{"quota_set", &opsctl.QuotaChange{Action: "set", Quotas: []opsctl.Quota{
		{User: &opsctl.QuotaPart{Name: ptr("alice")}, ClientID: &opsctl.QuotaPart{Name: ptr("etl")}, Quotas: map[string]float64{quota.ProducerByteRate: 1 << 20}},
	}}},
	{"quota_delete", &opsctl.QuotaChange{Action: "deleted", Quotas: []opsctl.Quota{
		{User: &opsctl.QuotaPart{Default: true}, Quotas: map[string]float64{quota.ProducerByteRate: 10 << 20, quota.ConsumerByteRate: 20 << 20}},
	}}},
	{"quota_delete_none", &opsctl.QuotaChange{Action: "deleted", Quotas: []opsctl.Quota{}}},
}

func TestQuotaRenderGolden(t *testing.T) {
	// Quota maps are keyed by quota names, which are snake_case too.
	renderGolden(t, quotaReports, func(t *testing.T, name string, v any) { checkKeys(t, name, v, false) })
}

func TestQuotaEntity(t *testing.T) {
	tests := []struct {
		name  string
		flags opsctl.QuotaFlags
		want  quota.Entity
		err   string
	}{
		{name: "user", flags: opsctl.QuotaFlags{User: ptr("alice")}, want: quota.Entity{User: quota.Name("alice")}},
		{name: "default user", flags: opsctl.QuotaFlags{UserDefault: true}, want: quota.Entity{User: quota.DefaultPart}},
		{name: "client ID", flags: opsctl.QuotaFlags{ClientID: ptr("etl")}, want: quota.Entity{ClientID: quota.Name("etl")}},
		{name: "default client ID", flags: opsctl.QuotaFlags{ClientIDDefault: true}, want: quota.Entity{ClientID: quota.DefaultPart}},
		{
			name: "user's default client ID", flags: opsctl.QuotaFlags{User: ptr("alice"), ClientIDDefault: true},
			want: quota.Entity{User: quota.Name("alice"), ClientID: quota.DefaultPart},
		},
		{
			name: "both defaults", flags: opsctl.QuotaFlags{UserDefault: true, ClientIDDefault: true},
			want: quota.Entity{User: quota.DefaultPart, ClientID: quota.DefaultPart},
		},
		{name: "nobody", flags: opsctl.QuotaFlags{}, err: "say whose quota: --user NAME or --user-default"},
		{name: "user and default user", flags: opsctl.QuotaFlags{User: ptr("a"), UserDefault: true}, err: "--user and --user-default cannot be combined"},
		{name: "client and default client", flags: opsctl.QuotaFlags{ClientID: ptr("a"), ClientIDDefault: true}, err: "--client-id and --client-id-default cannot be combined"},
		{name: "empty user", flags: opsctl.QuotaFlags{User: ptr("")}, err: "--user: give a name (--user-default names the default)"},
		{name: "empty client ID", flags: opsctl.QuotaFlags{ClientID: ptr(""), User: ptr("a")}, err: "--client-id: give a name"},
		{name: "strict is list's", flags: opsctl.QuotaFlags{User: ptr("a"), Strict: true}, err: "--strict is a filter of quota list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.flags.Entity()
			checkInvalid(t, err, tt.err)
			if tt.err == "" && got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestQuotaFilter(t *testing.T) {
	user := func(m quota.MatchKind, name string) quota.Component {
		return quota.Component{Type: quota.TypeUser, Match: m, Name: name}
	}
	client := func(m quota.MatchKind, name string) quota.Component {
		return quota.Component{Type: quota.TypeClientID, Match: m, Name: name}
	}
	tests := []struct {
		name  string
		flags opsctl.QuotaFlags
		want  quota.Filter
		err   string
	}{
		{name: "everything", want: quota.Filter{}},
		{name: "user", flags: opsctl.QuotaFlags{User: ptr("alice")}, want: quota.Filter{Components: []quota.Component{user(quota.MatchExact, "alice")}}},
		{
			name: "user alone", flags: opsctl.QuotaFlags{User: ptr("alice"), Strict: true},
			want: quota.Filter{Components: []quota.Component{user(quota.MatchExact, "alice")}, Strict: true},
		},
		{
			name: "default user, client ID", flags: opsctl.QuotaFlags{UserDefault: true, ClientID: ptr("etl")},
			want: quota.Filter{Components: []quota.Component{user(quota.MatchDefault, ""), client(quota.MatchExact, "etl")}},
		},
		{name: "default client ID", flags: opsctl.QuotaFlags{ClientIDDefault: true}, want: quota.Filter{Components: []quota.Component{client(quota.MatchDefault, "")}}},
		{name: "strict alone", flags: opsctl.QuotaFlags{Strict: true}, err: "--strict narrows"},
		{name: "user twice", flags: opsctl.QuotaFlags{User: ptr("a"), UserDefault: true}, err: "cannot be combined"},
		{name: "empty client ID", flags: opsctl.QuotaFlags{ClientID: ptr("")}, err: "--client-id: give a name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.flags.Filter()
			checkInvalid(t, err, tt.err)
			if tt.err != "" {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if err := got.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParseMutationRate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want float64
		err  string
	}{
		{in: "10", want: 10},
		{in: "0.5", want: 0.5},
		{in: "1e-3", want: 0.001},
		{in: "0", err: "--controller-mutation-rate 0: a rate is positive; `chronik quota delete` removes a quota"},
		{in: "-1", err: `--controller-mutation-rate "-1": give partitions created or deleted per second (0.5, 10)`},
		{in: "NaN", err: "give partitions created or deleted per second"},
		{in: "+Inf", err: "give partitions created or deleted per second"},
		{in: "10/s", err: "give partitions created or deleted per second"},
		{in: "", err: "give partitions created or deleted per second"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := opsctl.ParseMutationRate("controller-mutation-rate", tt.in)
			checkInvalid(t, err, tt.err)
			if tt.err == "" && got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseRate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want float64
		err  string
	}{
		{in: "1048576", want: 1 << 20},
		{in: "10MiB", want: 10 << 20},
		{in: "512 KiB", want: 512 << 10},
		{in: "2GiB", want: 2 << 30},
		{in: "1", want: 1},
		{in: "0", err: "--producer-byte-rate 0: a rate is positive; `chronik quota delete` removes a quota"},
		{in: "-5", err: `--producer-byte-rate "-5": give bytes per second`},
		{in: "10MB", err: "optionally with KiB, MiB or GiB"},
		{in: "1.5MiB", err: "give bytes per second"},
		{in: "", err: "give bytes per second"},
		{in: "fast", err: "give bytes per second"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := opsctl.ParseRate("producer-byte-rate", tt.in)
			checkInvalid(t, err, tt.err)
			if tt.err == "" && got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}
