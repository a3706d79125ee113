//go:build !no_gcs

package all

import _ "github.com/chronik-go/chronik/plugins/gcsstore" // registers the gcs provider
