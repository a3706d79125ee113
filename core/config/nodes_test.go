package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

const clusterTOML = `
[[nodes]]
id = 1
kafka = "127.0.0.1:19092"
raft = "127.0.0.1:19095"
http = "127.0.0.1:19644"
rack = "a"

[[nodes]]
id = 2
kafka = "127.0.0.1:29092"
raft = "127.0.0.1:29095"
http = "127.0.0.1:29644"
rack = "b"
`

func TestNodesSupplyAddresses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cluster.toml")
	if err := os.WriteFile(path, []byte(clusterTOML), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	BindFlags(fs)
	if err := fs.Parse([]string{"--config", path, "--node-id", "2", "--http-addr", "127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(fs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.KafkaAddr != "127.0.0.1:29092" || cfg.AdvertisedKafkaAddr() != "127.0.0.1:29092" || cfg.RaftAddr != "127.0.0.1:29095" {
		t.Errorf("node 2 addresses = kafka %s raft %s", cfg.KafkaAddr, cfg.RaftAddr)
	}
	if cfg.HTTPAddr != "127.0.0.1:1" {
		t.Errorf("the --http-addr flag must beat the nodes entry, got %s", cfg.HTTPAddr)
	}
	if n, ok := cfg.Node(1); !ok || n.Rack != "a" {
		t.Errorf("node 1 entry = %+v", n)
	}
}

func TestNodesValidation(t *testing.T) {
	cases := map[string]string{
		"node-id 3 is not listed": "node-id = 3\n" + clusterTOML,
		"unique":                  "node-id = 1\n" + clusterTOML + "[[nodes]]\nid = 2\nkafka = \"127.0.0.1:1\"\nraft = \"127.0.0.1:2\"\n",
		"raft":                    "node-id = 1\n" + strings.Replace(clusterTOML, "127.0.0.1:29095", "127.0.0.1:19095", 1),
	}
	for want, doc := range cases {
		if _, err := Parse("cluster.toml", []byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want an error mentioning %q, got %v", want, err)
		}
	}
}
