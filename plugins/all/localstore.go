//go:build !no_local

package all

import _ "github.com/chronik-go/chronik/plugins/localstore" // registers the local provider
