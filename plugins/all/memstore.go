//go:build !no_mem

package all

import _ "github.com/chronik-go/chronik/plugins/memstore" // registers the mem provider
