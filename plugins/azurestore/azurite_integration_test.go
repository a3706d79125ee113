//go:build integration

package azurestore_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/chronik-go/chronik/plugins/azurestore"
	"github.com/chronik-go/chronik/plugins/emulatortest"
	"github.com/chronik-go/chronik/tiering"
	"github.com/chronik-go/chronik/tiering/driver"
	"github.com/chronik-go/chronik/tiering/drivertest"
)

// startAzurite runs Azurite's blob service in memory on a free port and
// returns host:port.
func startAzurite(t testing.TB) string {
	t.Helper()
	return emulatortest.StartAzurite(t)
}

func TestConformanceAzurite(t *testing.T) {
	t.Parallel()
	addr := startAzurite(t)
	cfg := azurestore.NewConfig()
	cfg.ConnectionString = azurestore.DevConnectionString(addr)
	admin, err := azurestore.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	drivertest.RunConformance(t, func(tb testing.TB) driver.Bucket {
		tb.Helper()
		c := *cfg
		c.Container = fmt.Sprintf("container-%d", n.Add(1))
		c.BlockSize = 5 << 20
		if _, err := admin.CreateContainer(tb.Context(), c.Container, nil); err != nil {
			tb.Fatalf("create container %s: %v", c.Container, err)
		}
		b, err := azurestore.Open(&c)
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}, drivertest.WithPartSize(5<<20))
}

// TestURLAzurite opens Azurite through an azblob:// URL that names only the
// account and endpoint: devstoreaccount1's well-known key is filled in.
func TestURLAzurite(t *testing.T) {
	t.Parallel()
	addr := startAzurite(t)
	cfg := azurestore.NewConfig()
	cfg.ConnectionString = azurestore.DevConnectionString(addr)
	admin, err := azurestore.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateContainer(t.Context(), "tier", nil); err != nil {
		t.Fatal(err)
	}
	raw := fmt.Sprintf("azblob://tier/chronik?account=%s&endpoint=http://%s/%s", azurestore.DevAccount, addr, azurestore.DevAccount)
	st, err := tiering.Default.OpenURL(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Put(t.Context(), "k", stringsReader("v"), 1); err != nil {
		t.Fatal(err)
	}
	got, err := st.ReadAll(t.Context(), "k")
	if err != nil || string(got) != "v" {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
	// A wrong key is refused by Azurite's shared-key check.
	bad := *cfg
	bad.ConnectionString = ""
	bad.Container, bad.Account, bad.Endpoint = "tier", azurestore.DevAccount, "http://"+addr+"/"+azurestore.DevAccount
	bad.AccountKey = "d3Jvbmc="
	b, err := azurestore.Open(&bad)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Stat(t.Context(), "chronik/k")
	if k := b.ErrorKind(err); k != driver.PermissionDenied {
		t.Errorf("Stat with a wrong key: %v, kind %v; want PermissionDenied", err, k)
	}
}
