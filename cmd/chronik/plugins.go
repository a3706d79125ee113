package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/chronik-go/chronik/core/opsctl"
	_ "github.com/chronik-go/chronik/plugins/all" // the object-store plugins this binary links (no_<name> tags drop some)
	"github.com/chronik-go/chronik/tiering"
)

func newPluginsCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "plugins",
		Short: "List the object-store plugins linked into this binary",
		Long: `List the tiered-storage backends this binary was built with: each plugin's
name (for config files) and the URL schemes --tier accepts. A binary built
with no_<name> tags (go build -tags no_gcs,no_azure) leaves those out. See
docs/plugins.md.`,
		Example: `  chronik plugins
  chronik plugins --format json | jq -r '.plugins[].schemes[]'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := opsctl.ParseFormat(format)
			if err != nil {
				return err
			}
			return opsctl.Print(cmd.OutOrStdout(), f, pluginsReport(tiering.Default))
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output `format`: table or json")
	return cmd
}

// pluginList is the output of `chronik plugins`.
type pluginList struct {
	Plugins []pluginInfo `json:"plugins"`
}

type pluginInfo struct {
	Name        string   `json:"name"`
	Schemes     []string `json:"schemes"`
	Description string   `json:"description"`
}

func pluginsReport(r *tiering.Registry) pluginList {
	l := pluginList{Plugins: []pluginInfo{}}
	for _, p := range r.Providers() {
		l.Plugins = append(l.Plugins, pluginInfo{Name: p.Name, Schemes: append([]string{}, p.Schemes...), Description: p.Description})
	}
	return l
}

// WriteTable implements opsctl.Report.
func (l pluginList) WriteTable(w io.Writer) error {
	if len(l.Plugins) == 0 {
		_, err := fmt.Fprintln(w, "no object-store plugins are linked into this binary")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSCHEMES\tDESCRIPTION")
	for _, p := range l.Plugins {
		schemes := make([]string, len(p.Schemes))
		for i, s := range p.Schemes {
			schemes[i] = s + "://"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, strings.Join(schemes, ","), p.Description)
	}
	return tw.Flush()
}
