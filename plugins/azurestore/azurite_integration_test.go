//go:build integration

package azurestore_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/chronik-go/chronik/plugins/azurestore"
	"github.com/chronik-go/chronik/plugins/internal/emulatortest"
	"github.com/chronik-go/chronik/tiering"
	"github.com/chronik-go/chronik/tiering/driver"
	"github.com/chronik-go/chronik/tiering/drivertest"
)

// startAzurite runs Azurite's blob service in memory on a free port and
// returns host:port.
func startAzurite(t testing.TB) string {
	t.Helper()
	bin := emulatortest.Find("azurite-blob", "../testdata/azurite/node_modules/.bin")
	if bin == "" {
		emulatortest.Missing(t, "azurite-blob is not installed: run plugins/testdata/install-emulators.sh "+
			"(npm ci in plugins/testdata/azurite)")
	}
	r := emulatortest.Start(t, emulatortest.Process{
		Name: "azurite-blob",
		Path: bin,
		Args: func(port int) []string {
			return []string{
				"--blobHost", "127.0.0.1", "--blobPort", fmt.Sprint(port),
				"--inMemoryPersistence", "--skipApiVersionCheck", "--disableTelemetry", "--silent",
			}
		},
		Ready: func(ctx context.Context, port int) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet,
				fmt.Sprintf("http://127.0.0.1:%d/%s?comp=list", port, azurestore.DevAccount), nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			return resp.Body.Close() // any answer (403 unsigned) means it serves
		},
	})
	return r.Addr
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
