package app

import (
	"github.com/spf13/pflag"

	"github.com/setwarden/setwarden/internal/check"
	"github.com/setwarden/setwarden/internal/manifest"
)

// walkOptions are check's flags for walking a repository as it is: the
// paths it skips, and the values its Helm charts are rendered with.
type walkOptions struct {
	exclude []string
	helm    check.HelmOptions
}

func addWalkFlags(flags *pflag.FlagSet, o *walkOptions) {
	flags.StringArrayVar(&o.exclude, "exclude", nil, "glob of paths a directory walk skips, matched against the path under the walked directory and the base name (** for any depth, trailing / for directories only); repeatable")
	flags.StringArrayVar(&o.helm.ValuesFiles, "values", nil, "values file for the Helm charts found in directories, as helm template takes it; repeatable")
	flags.StringArrayVar(&o.helm.Set, "set", nil, "key=value for the Helm charts found in directories, as helm template takes it; repeatable")
	flags.StringVar(&o.helm.ReleaseName, "release-name", "release-name", "release name the Helm charts found in directories are rendered with")
}

// configure sets the reader's exclusions and its Expander, which renders
// the Helm charts and builds the kustomizations met in directories (and
// those given with -k), and returns the Expander.
func (o *walkOptions) configure(reader *manifest.Reader) (*check.Expander, error) {
	for _, pattern := range o.exclude {
		if err := manifest.ValidateGlob(pattern); err != nil {
			return nil, err
		}
	}
	expander, err := check.NewExpander(o.helm)
	if err != nil {
		return nil, err
	}
	reader.Exclude, reader.Expander = o.exclude, expander
	return expander, nil
}
