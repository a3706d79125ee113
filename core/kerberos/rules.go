package kerberos

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Rules map a Kerberos principal to the user it is (Kafka's
// sasl.kerberos.principal.to.local.rules, the rules of Hadoop's
// auth_to_local): the first rule that applies gives the name; a principal
// no rule maps is refused. DEFAULT maps a principal of the broker's realm to
// its first component (alice/admin@REALM → alice); a rule
//
//	RULE:[n:format](regexp)s/pattern/replacement/g/L
//
// applies to principals of n components: format builds a string from them
// ($0 the realm, $1 the first component, $2 the second), which must match
// regexp (all of it; omitted, anything); the sed-style substitution, if
// any, is applied (g: every match), and L or U makes the result lower or
// upper case. A result with '/' or '@' is refused.
type Rules []rule

type rule struct {
	isDefault  bool
	components int
	format     string
	match      *regexp.Regexp // nil: any
	from       *regexp.Regexp // nil: no substitution
	to         string
	global     bool
	lower      bool
	upper      bool
}

var ruleSyntax = regexp.MustCompile(`^RULE:\[(\d+):([^\]]*)\](?:\(([^)]*)\))?(?:s/([^/]*)/([^/]*)/(g)?)?/?(L|U)?$`)

// javaGroupRef is a $n group reference of a Java replacement string.
var javaGroupRef = regexp.MustCompile(`\$(\d+)`)

// ParseRules parses rules as Kafka writes them; none is DEFAULT alone.
func ParseRules(texts []string) (Rules, error) {
	if len(texts) == 0 {
		return Rules{{isDefault: true}}, nil
	}
	var rules Rules
	for _, text := range texts {
		text = strings.TrimSpace(text)
		if text == "DEFAULT" {
			rules = append(rules, rule{isDefault: true})
			continue
		}
		m := ruleSyntax.FindStringSubmatch(text)
		if m == nil {
			return nil, fmt.Errorf("rule %q: not DEFAULT nor RULE:[n:format](regexp)s/pattern/replacement/g/L", text)
		}
		n, err := strconv.Atoi(m[1])
		if err != nil || n < 1 {
			return nil, fmt.Errorf("rule %q: %q components: give 1 or more", text, m[1])
		}
		r := rule{components: n, format: m[2], global: m[6] == "g", lower: m[7] == "L", upper: m[7] == "U"}
		if m[3] != "" {
			if r.match, err = regexp.Compile("^(?:" + m[3] + ")$"); err != nil {
				return nil, fmt.Errorf("rule %q: %w", text, err)
			}
		}
		if m[4] != "" {
			if r.from, err = regexp.Compile(m[4]); err != nil {
				return nil, fmt.Errorf("rule %q: %w", text, err)
			}
			r.to = javaGroupRef.ReplaceAllString(m[5], "$${$1}")
		}
		if _, err := r.base("REALM", make([]string, n)); err != nil {
			return nil, fmt.Errorf("rule %q: %w", text, err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

var errNoRule = errors.New("no principal-to-local rule maps it")

// ShortName returns the user the principal components@realm is, on a
// broker of serviceRealm.
func (rs Rules) ShortName(components []string, realm, serviceRealm string) (string, error) {
	if len(rs) == 0 {
		rs = Rules{{isDefault: true}}
	}
	for _, r := range rs {
		name, ok, err := r.apply(components, realm, serviceRealm)
		if err != nil {
			return "", err
		}
		if ok {
			if name == "" || strings.ContainsAny(name, "/@") {
				return "", fmt.Errorf("principal %s@%s maps to %q, not a simple name", strings.Join(components, "/"), realm, name)
			}
			return name, nil
		}
	}
	return "", fmt.Errorf("principal %s@%s: %w (kafka.sasl-kerberos-principal-to-local-rules)", strings.Join(components, "/"), realm, errNoRule)
}

func (r rule) apply(components []string, realm, serviceRealm string) (string, bool, error) {
	if r.isDefault {
		if realm != serviceRealm || len(components) == 0 {
			return "", false, nil
		}
		return components[0], true, nil
	}
	if len(components) != r.components {
		return "", false, nil
	}
	base, err := r.base(realm, components)
	if err != nil {
		return "", false, err
	}
	if r.match != nil && !r.match.MatchString(base) {
		return "", false, nil
	}
	name := base
	if r.from != nil {
		if r.global {
			name = r.from.ReplaceAllString(base, r.to)
		} else if loc := r.from.FindStringSubmatchIndex(base); loc != nil {
			name = base[:loc[0]] + string(r.from.ExpandString(nil, r.to, base, loc)) + base[loc[1]:]
		}
	}
	switch {
	case r.lower:
		name = strings.ToLower(name)
	case r.upper:
		name = strings.ToUpper(name)
	}
	return name, true, nil
}

// base fills the rule's format: $0 the realm, $n the nth component.
func (r rule) base(realm string, components []string) (string, error) {
	var b strings.Builder
	f := r.format
	for {
		i := strings.IndexByte(f, '$')
		if i < 0 {
			b.WriteString(f)
			return b.String(), nil
		}
		b.WriteString(f[:i])
		j := i + 1
		for j < len(f) && f[j] >= '0' && f[j] <= '9' {
			j++
		}
		if j == i+1 {
			return "", fmt.Errorf("format %q: '$' without a number", r.format)
		}
		n, _ := strconv.Atoi(f[i+1 : j])
		switch {
		case n == 0:
			b.WriteString(realm)
		case n <= len(components):
			b.WriteString(components[n-1])
		default:
			return "", fmt.Errorf("format %q: $%d, but the rule is for %d components", r.format, n, len(components))
		}
		f = f[j:]
	}
}
