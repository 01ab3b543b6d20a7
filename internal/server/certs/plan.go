package certs

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RotateBefore says how long before expiry a certificate is renewed: either
// a fraction of its lifetime or a fixed duration.
type RotateBefore struct {
	// Fraction of the certificate's lifetime, in (0, 1); used when Duration is 0.
	Fraction float64
	// Duration before NotAfter.
	Duration time.Duration
}

// ParseRotateBefore reads "33%", "0.33" (fractions of the lifetime) or a
// duration such as "720h".
func ParseRotateBefore(s string) (RotateBefore, error) {
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(pct, 64)
		if err != nil || f <= 0 || f >= 100 {
			return RotateBefore{}, fmt.Errorf("%q is not a percentage between 0 and 100 exclusive", s)
		}
		return RotateBefore{Fraction: f / 100}, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f <= 0 || f >= 1 {
			return RotateBefore{}, fmt.Errorf("%q is not a fraction between 0 and 1 exclusive", s)
		}
		return RotateBefore{Fraction: f}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return RotateBefore{}, fmt.Errorf("%q is neither a fraction (0.33, 33%%) nor a positive duration (720h)", s)
	}
	return RotateBefore{Duration: d}, nil
}

// String implements fmt.Stringer.
func (r RotateBefore) String() string {
	if r.Duration > 0 {
		return r.Duration.String()
	}
	return strconv.FormatFloat(r.Fraction*100, 'f', -1, 64) + "%"
}

// window returns how long before expiry a certificate of that lifetime is renewed.
func (r RotateBefore) window(lifetime time.Duration) time.Duration {
	if r.Duration > 0 {
		return r.Duration
	}
	return time.Duration(r.Fraction * float64(lifetime))
}

// DueAt returns when cert should be renewed.
func (r RotateBefore) DueAt(cert *x509.Certificate) time.Time {
	return cert.NotAfter.Add(-r.window(cert.NotAfter.Sub(IssuedAt(cert))))
}

// Policy is what the generated certificates must look like and when they
// are rotated.
type Policy struct {
	// DNSNames are the serving certificate's names (<svc>.<ns>.svc first).
	DNSNames []string
	// CAValidity is the lifetime of a new CA.
	CAValidity time.Duration
	// CertValidity is the lifetime of a new serving certificate.
	CertValidity time.Duration
	// RotateBefore applies to the CA and the serving certificate alike.
	RotateBefore RotateBefore
	// Propagation is how long a new CA bundle needs to reach every API
	// server, and a new serving certificate every replica, before the next
	// step of a CA rotation may rely on it.
	Propagation time.Duration
}

// Validate reports a policy whose rotation could not overlap.
func (p Policy) Validate() error {
	switch {
	case len(p.DNSNames) == 0:
		return errors.New("no DNS names for the serving certificate")
	case p.CAValidity <= 0 || p.CertValidity <= 0:
		return errors.New("certificate validities must be positive")
	case p.Propagation < 0:
		return errors.New("the propagation delay must not be negative")
	}
	for _, c := range []struct {
		what     string
		lifetime time.Duration
	}{{"CA", p.CAValidity}, {"serving certificate", p.CertValidity}} {
		if w := p.RotateBefore.window(c.lifetime); w >= c.lifetime || w <= 2*p.Propagation {
			return fmt.Errorf("the %s rotation window (%s of %s) must be shorter than its lifetime and longer than twice the propagation delay %s, so the bundle can overlap before expiry",
				c.what, w, c.lifetime, p.Propagation)
		}
	}
	return nil
}

// State is the content of the certificate Secret.
type State struct {
	// Bundle holds every trusted CA: what the webhook configurations carry.
	Bundle []*x509.Certificate
	// CA is the signing CA, one of Bundle; nil when unknown.
	CA *KeyPair
	// Serving is the serving certificate; nil when missing or unusable.
	Serving *KeyPair
}

// Decision explains what Plan did.
type Decision struct {
	// Changed is true when the new State differs from the old one.
	Changed bool
	// Reasons say why, for the log.
	Reasons []string
	// Next is when Plan should run again, if nothing else changes first.
	Next time.Time
}

// Plan returns the state the Secret should hold at now. It is idempotent:
// planning its own result at the same instant changes nothing.
func Plan(p Policy, s State, now time.Time) (State, Decision, error) {
	out := State{Bundle: slices.Clone(s.Bundle), CA: s.CA, Serving: s.Serving}
	d := Decision{Next: now.Add(p.CAValidity)}
	if reason := caRenewal(p, s.CA, now); reason != "" {
		ca, err := NewCA(fmt.Sprintf("setwarden-ca@%d", now.Unix()), now, p.CAValidity)
		if err != nil {
			return s, d, err
		}
		out.CA = ca
		out.Bundle = append(out.Bundle, ca.Cert)
		d.Reasons = append(d.Reasons, reason)
	}
	d.earliest(p.RotateBefore.DueAt(out.CA.Cert))
	reason, wait := servingRenewal(p, out, now)
	switch {
	case reason != "" && wait.After(now):
		d.earliest(wait)
	case reason != "":
		serving, err := NewServingCert(out.CA, p.DNSNames, now, p.CertValidity)
		if err != nil {
			return s, d, err
		}
		out.Serving = serving
		d.Reasons = append(d.Reasons, reason)
	}
	if out.Serving != nil {
		d.earliest(p.RotateBefore.DueAt(out.Serving.Cert))
		d.earliest(out.Serving.Cert.NotAfter)
	}
	var pruned []string
	out.Bundle, pruned = pruneBundle(p, out, now, &d)
	d.Reasons = append(d.Reasons, pruned...)
	d.Changed = !sameState(s, out)
	return out, d, nil
}

func (d *Decision) earliest(t time.Time) {
	if t.Before(d.Next) {
		d.Next = t
	}
}

// caRenewal says why a new CA is needed, or "".
func caRenewal(p Policy, ca *KeyPair, now time.Time) string {
	switch {
	case ca == nil:
		return "no signing CA"
	case !validAt(ca.Cert, now):
		return "the signing CA is expired"
	case !now.Before(p.RotateBefore.DueAt(ca.Cert)):
		return "the signing CA is due for rotation"
	}
	return ""
}

// servingRenewal says why a new serving certificate is needed, or "", and
// until when the renewal must wait. A serving certificate that still works
// is replaced by one from a new CA only after the new CA had time to reach
// every API server's bundle; one that does not work is replaced at once.
func servingRenewal(p Policy, s State, now time.Time) (string, time.Time) {
	cur := s.Serving
	switch {
	case cur == nil:
		return "no serving certificate", time.Time{}
	case !validAt(cur.Cert, now):
		return "the serving certificate is expired", time.Time{}
	case !slices.Equal(cur.Cert.DNSNames, p.DNSNames):
		return fmt.Sprintf("the serving certificate names %v, want %v", cur.Cert.DNSNames, p.DNSNames), time.Time{}
	case signer(cur.Cert, s.Bundle) == nil:
		return "the serving certificate is not signed by a trusted CA", time.Time{}
	}
	propagated := IssuedAt(s.CA.Cert).Add(p.Propagation)
	switch {
	case cur.Cert.CheckSignatureFrom(s.CA.Cert) != nil:
		return "the serving certificate is signed by the previous CA", propagated
	case !now.Before(p.RotateBefore.DueAt(cur.Cert)):
		return "the serving certificate is due for rotation", propagated
	}
	return "", time.Time{}
}

// pruneBundle drops the CAs nothing needs any more: expired ones, and
// previous CAs once every replica had time to serve a certificate from the
// signing CA.
func pruneBundle(p Policy, s State, now time.Time, d *Decision) ([]*x509.Certificate, []string) {
	var kept []*x509.Certificate
	var reasons []string
	servingSettled := s.Serving == nil || !now.Before(IssuedAt(s.Serving.Cert).Add(p.Propagation))
	for _, ca := range s.Bundle {
		isSigner := ca.Equal(s.CA.Cert)
		signsServing := s.Serving != nil && s.Serving.Cert.CheckSignatureFrom(ca) == nil
		switch {
		case !ca.IsCA || slices.ContainsFunc(kept, ca.Equal):
			reasons = append(reasons, fmt.Sprintf("dropped %q from the bundle: not a CA or a duplicate", ca.Subject.CommonName))
		case isSigner:
			kept = append(kept, ca)
		case !validAt(ca, now):
			reasons = append(reasons, fmt.Sprintf("dropped expired CA %q from the bundle", ca.Subject.CommonName))
		case signsServing || !servingSettled:
			kept = append(kept, ca)
			d.earliest(ca.NotAfter)
			if !signsServing {
				d.earliest(IssuedAt(s.Serving.Cert).Add(p.Propagation))
			}
		default:
			reasons = append(reasons, fmt.Sprintf("dropped previous CA %q from the bundle: every replica serves a certificate from %q", ca.Subject.CommonName, s.CA.Cert.Subject.CommonName))
		}
	}
	return kept, reasons
}

func validAt(cert *x509.Certificate, now time.Time) bool {
	return !now.Before(cert.NotBefore) && now.Before(cert.NotAfter)
}

// signer returns the CA of bundle that signed cert, or nil.
func signer(cert *x509.Certificate, bundle []*x509.Certificate) *x509.Certificate {
	for _, ca := range bundle {
		if cert.CheckSignatureFrom(ca) == nil {
			return ca
		}
	}
	return nil
}

func sameState(a, b State) bool {
	return bytes.Equal(EncodeCerts(a.Bundle...), EncodeCerts(b.Bundle...)) &&
		samePair(a.CA, b.CA) && samePair(a.Serving, b.Serving)
}

func samePair(a, b *KeyPair) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Cert.Equal(b.Cert) && matches(b.Cert, a.Key)
}
