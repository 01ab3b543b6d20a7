package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var certsT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func certsPolicy() Policy {
	return Policy{
		DNSNames:     []string{"setwarden.setwarden-system.svc", "setwarden.setwarden-system.svc.cluster.local"},
		CAValidity:   9 * 24 * time.Hour,
		CertValidity: 3 * 24 * time.Hour,
		RotateBefore: RotateBefore{Fraction: 1.0 / 3},
		Propagation:  time.Hour,
	}
}

// certsPlan plans and fails the test on error.
func certsPlan(t *testing.T, p Policy, s State, now time.Time) (State, Decision) {
	t.Helper()
	out, d, err := Plan(p, s, now)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return out, d
}

func certsNames(bundle []*x509.Certificate) []string {
	var out []string
	for _, c := range bundle {
		out = append(out, c.Subject.CommonName)
	}
	return out
}

func certsIssuer(t *testing.T, s State) string {
	t.Helper()
	ca := signer(s.Serving.Cert, s.Bundle)
	if ca == nil {
		t.Fatal("the serving certificate is not signed by any CA of the bundle")
	}
	return ca.Subject.CommonName
}

func TestCertsPlanLifecycle(t *testing.T) {
	p := certsPolicy()
	empty, d := certsPlan(t, p, State{}, certsT0)
	caName := "setwarden-ca@" + itoa(certsT0.Unix())

	t.Run("an empty Secret gets a CA and a serving certificate from it at once", func(t *testing.T) {
		if !d.Changed {
			t.Fatal("Changed = false")
		}
		if diff := cmp.Diff([]string{"no signing CA", "no serving certificate"}, d.Reasons); diff != "" {
			t.Errorf("reasons (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{caName}, certsNames(empty.Bundle)); diff != "" {
			t.Errorf("bundle (-want +got):\n%s", diff)
		}
		if got := certsIssuer(t, empty); got != caName {
			t.Errorf("issuer = %s", got)
		}
		// The serving certificate is renewed after two thirds of its life.
		if want := certsT0.Add(2 * 24 * time.Hour); !d.Next.Equal(want) {
			t.Errorf("Next = %s, want %s", d.Next, want)
		}
	})
	t.Run("planning the result again changes nothing, at once or later before anything is due", func(t *testing.T) {
		for _, at := range []time.Time{certsT0, certsT0.Add(47 * time.Hour)} {
			again, d := certsPlan(t, p, empty, at)
			if d.Changed || len(d.Reasons) > 0 {
				t.Errorf("at %s: Changed = %v, reasons %v", at, d.Changed, d.Reasons)
			}
			if !sameState(empty, again) {
				t.Errorf("at %s: the state changed", at)
			}
		}
	})
	t.Run("a serving certificate due for rotation is renewed from the same CA, the bundle unchanged", func(t *testing.T) {
		at := certsT0.Add(48 * time.Hour)
		renewed, d := certsPlan(t, p, empty, at)
		if diff := cmp.Diff([]string{"the serving certificate is due for rotation"}, d.Reasons); diff != "" {
			t.Errorf("reasons (-want +got):\n%s", diff)
		}
		if renewed.Serving.Cert.Equal(empty.Serving.Cert) || !renewed.CA.Cert.Equal(empty.CA.Cert) {
			t.Error("want a new serving certificate from the same CA")
		}
		if diff := cmp.Diff([]string{caName}, certsNames(renewed.Bundle)); diff != "" {
			t.Errorf("bundle (-want +got):\n%s", diff)
		}
	})
}

func TestCertsPlanCARotationOverlaps(t *testing.T) {
	p := certsPolicy()
	s, _ := certsPlan(t, p, State{}, certsT0)
	oldCA := s.CA.Cert.Subject.CommonName
	// Renew the serving certificate just before the CA is due (day 6), so
	// the serving certificate is still good when the CA rotates.
	s, _ = certsPlan(t, p, s, certsT0.Add(6*24*time.Hour-2*time.Hour))
	caDue := certsT0.Add(6 * 24 * time.Hour)

	rotating, d := certsPlan(t, p, s, caDue)
	newCA := rotating.CA.Cert.Subject.CommonName
	t.Run("a CA due for rotation joins the bundle and the serving certificate stays until the bundle propagated", func(t *testing.T) {
		if diff := cmp.Diff([]string{"the signing CA is due for rotation"}, d.Reasons); diff != "" {
			t.Errorf("reasons (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{oldCA, newCA}, certsNames(rotating.Bundle)); diff != "" {
			t.Errorf("bundle (-want +got):\n%s", diff)
		}
		if !rotating.Serving.Cert.Equal(s.Serving.Cert) {
			t.Error("the serving certificate changed before the new CA reached the API servers")
		}
		if want := caDue.Add(p.Propagation); !d.Next.Equal(want) {
			t.Errorf("Next = %s, want %s (the end of the propagation delay)", d.Next, want)
		}
	})
	t.Run("during the propagation delay nothing changes", func(t *testing.T) {
		_, d := certsPlan(t, p, rotating, caDue.Add(p.Propagation-time.Second))
		if d.Changed {
			t.Errorf("Changed: %v", d.Reasons)
		}
	})
	switched, d := certsPlan(t, p, rotating, caDue.Add(p.Propagation))
	t.Run("after the propagation delay the serving certificate switches to the new CA and both CAs stay trusted", func(t *testing.T) {
		if diff := cmp.Diff([]string{"the serving certificate is signed by the previous CA"}, d.Reasons); diff != "" {
			t.Errorf("reasons (-want +got):\n%s", diff)
		}
		if got := certsIssuer(t, switched); got != newCA {
			t.Errorf("issuer = %s, want %s", got, newCA)
		}
		if diff := cmp.Diff([]string{oldCA, newCA}, certsNames(switched.Bundle)); diff != "" {
			t.Errorf("bundle (-want +got):\n%s", diff)
		}
	})
	t.Run("once every replica had time to pick the new certificate up, the previous CA leaves the bundle", func(t *testing.T) {
		at := caDue.Add(2 * p.Propagation)
		if _, d := certsPlan(t, p, switched, at.Add(-time.Second)); d.Changed {
			t.Errorf("pruned too early: %v", d.Reasons)
		}
		pruned, d := certsPlan(t, p, switched, at)
		want := []string{`dropped previous CA "` + oldCA + `" from the bundle: every replica serves a certificate from "` + newCA + `"`}
		if diff := cmp.Diff(want, d.Reasons); diff != "" {
			t.Errorf("reasons (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{newCA}, certsNames(pruned.Bundle)); diff != "" {
			t.Errorf("bundle (-want +got):\n%s", diff)
		}
	})
	t.Run("an expired serving certificate is replaced at once, even during the propagation delay", func(t *testing.T) {
		expired := rotating
		expired.Serving = certsServing(t, s.CA, p.DNSNames, caDue.Add(-time.Hour), time.Minute)
		out, d := certsPlan(t, p, expired, caDue.Add(time.Minute))
		if diff := cmp.Diff([]string{"the serving certificate is expired"}, d.Reasons); diff != "" {
			t.Errorf("reasons (-want +got):\n%s", diff)
		}
		if got := certsIssuer(t, out); got != newCA {
			t.Errorf("issuer = %s, want %s", got, newCA)
		}
	})
}

func certsServing(t *testing.T, ca *KeyPair, names []string, now time.Time, validity time.Duration) *KeyPair {
	t.Helper()
	kp, err := NewServingCert(ca, names, now, validity)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func certsCA(t *testing.T, name string, now time.Time, validity time.Duration) *KeyPair {
	t.Helper()
	kp, err := NewCA(name, now, validity)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func TestCertsPlanRepairs(t *testing.T) {
	p := certsPolicy()
	good, _ := certsPlan(t, p, State{}, certsT0)
	stranger := certsCA(t, "stranger", certsT0, p.CAValidity)
	notCA := certsServing(t, good.CA, p.DNSNames, certsT0, time.Hour)
	expiredCA := certsCA(t, "expired", certsT0.Add(-48*time.Hour), time.Hour)
	tests := []struct {
		name        string
		state       State
		wantReasons []string
		wantBundle  []string
		newServing  bool
	}{
		{
			name:        "a serving certificate with other DNS names is replaced at once",
			state:       State{Bundle: good.Bundle, CA: good.CA, Serving: certsServing(t, good.CA, []string{"old.setwarden-system.svc"}, certsT0, time.Hour)},
			wantReasons: []string{"the serving certificate names [old.setwarden-system.svc], want " + "[" + strings.Join(p.DNSNames, " ") + "]"},
			wantBundle:  certsNames(good.Bundle),
			newServing:  true,
		},
		{
			name:        "a serving certificate no CA of the bundle signed is replaced at once",
			state:       State{Bundle: good.Bundle, CA: good.CA, Serving: certsServing(t, stranger, p.DNSNames, certsT0, time.Hour)},
			wantReasons: []string{"the serving certificate is not signed by a trusted CA"},
			wantBundle:  certsNames(good.Bundle),
			newServing:  true,
		},
		{
			name:        "a bundle without the CA key gets a new CA, and the serving certificate waits for the bundle to propagate",
			state:       State{Bundle: good.Bundle, Serving: good.Serving},
			wantReasons: []string{"no signing CA"},
			wantBundle:  append(certsNames(good.Bundle), "setwarden-ca@"+itoa(certsT0.Unix())),
		},
		{
			name:        "expired CAs, duplicates and non-CA certificates leave the bundle",
			state:       State{Bundle: append(slices.Clone(good.Bundle), expiredCA.Cert, good.CA.Cert, notCA.Cert), CA: good.CA, Serving: good.Serving},
			wantReasons: []string{`dropped expired CA "expired" from the bundle`, `dropped "` + good.CA.Cert.Subject.CommonName + `" from the bundle: not a CA or a duplicate`, `dropped "setwarden.setwarden-system.svc" from the bundle: not a CA or a duplicate`},
			wantBundle:  certsNames(good.Bundle),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, d := certsPlan(t, p, tt.state, certsT0)
			if diff := cmp.Diff(tt.wantReasons, d.Reasons); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantBundle, certsNames(out.Bundle)); diff != "" {
				t.Errorf("bundle (-want +got):\n%s", diff)
			}
			if got := !out.Serving.Cert.Equal(tt.state.Serving.Cert); got != tt.newServing {
				t.Errorf("new serving certificate = %v, want %v", got, tt.newServing)
			}
			if !d.Changed {
				t.Error("Changed = false")
			}
		})
	}
}

// TestCertsPlanNeverBreaksAHandshake simulates a month of rotations with
// lag: the API servers trust the bundle published up to half a propagation
// delay ago, and a replica serves the certificate the Secret held up to half
// a propagation delay ago. Every handshake must verify.
func TestCertsPlanNeverBreaksAHandshake(t *testing.T) {
	p := certsPolicy()
	lag := p.Propagation / 2
	type snapshot struct {
		at     time.Time
		bundle *x509.CertPool
		size   int
		leaf   *x509.Certificate
	}
	var history []snapshot
	asOf := func(at time.Time) snapshot {
		i := len(history) - 1
		for i > 0 && history[i].at.After(at) {
			i--
		}
		return history[i]
	}
	var s State
	caRotations, servingRotations, checks := 0, 0, 0
	for now := certsT0; now.Before(certsT0.Add(30 * 24 * time.Hour)); now = now.Add(p.Propagation / 4) {
		next, d := certsPlan(t, p, s, now)
		if d.Changed {
			if s.CA != nil && !next.CA.Cert.Equal(s.CA.Cert) {
				caRotations++
			}
			if s.Serving != nil && !next.Serving.Cert.Equal(s.Serving.Cert) {
				servingRotations++
			}
			pool := x509.NewCertPool()
			for _, c := range next.Bundle {
				pool.AddCert(c)
			}
			history = append(history, snapshot{at: now, bundle: pool, size: len(next.Bundle), leaf: next.Serving.Cert})
			if len(next.Bundle) > 2 {
				t.Fatalf("at %s the bundle holds %d CAs", now, len(next.Bundle))
			}
		}
		s = next
		if now.Before(certsT0.Add(lag)) {
			continue // the webhook was not reachable before its first certificate
		}
		for _, trusted := range []snapshot{asOf(now), asOf(now.Add(-lag))} {
			for _, served := range []snapshot{asOf(now), asOf(now.Add(-lag))} {
				checks++
				_, err := served.leaf.Verify(x509.VerifyOptions{Roots: trusted.bundle, DNSName: p.DNSNames[0], CurrentTime: now})
				if err != nil {
					t.Fatalf("at %s a handshake fails: %v", now, err)
				}
			}
		}
	}
	if caRotations < 3 || servingRotations < 9 {
		t.Errorf("only %d CA and %d serving certificate rotations in a month", caRotations, servingRotations)
	}
	t.Logf("%d CA rotations, %d serving certificate rotations, %d handshakes verified", caRotations, servingRotations, checks)
}

func TestCertsAuthority(t *testing.T) {
	p := certsPolicy()
	ca := certsCA(t, "setwarden-ca", certsT0, 365*24*time.Hour)
	serving := certsServing(t, ca, p.DNSNames, certsT0, 90*24*time.Hour)
	t.Run("the CA is a self-signed ECDSA P-256 CA that may only sign leaves", func(t *testing.T) {
		c := ca.Cert
		if !c.IsCA || !c.BasicConstraintsValid || !c.MaxPathLenZero || c.CheckSignatureFrom(c) != nil {
			t.Errorf("IsCA=%v basic=%v maxPathLenZero=%v", c.IsCA, c.BasicConstraintsValid, c.MaxPathLenZero)
		}
		if pub, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
			t.Errorf("public key %T, want ECDSA P-256", c.PublicKey)
		}
		if want := certsT0.Add(365 * 24 * time.Hour); !c.NotAfter.Equal(want) || !IssuedAt(c).Equal(certsT0) {
			t.Errorf("NotBefore %s NotAfter %s", c.NotBefore, c.NotAfter)
		}
	})
	t.Run("the serving certificate names the Service and verifies for both names against the CA", func(t *testing.T) {
		c := serving.Cert
		if diff := cmp.Diff(p.DNSNames, c.DNSNames); diff != "" {
			t.Errorf("DNS names (-want +got):\n%s", diff)
		}
		if c.IsCA || !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
			t.Errorf("IsCA=%v ExtKeyUsage=%v", c.IsCA, c.ExtKeyUsage)
		}
		roots := x509.NewCertPool()
		roots.AddCert(ca.Cert)
		for _, name := range p.DNSNames {
			if _, err := c.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, CurrentTime: certsT0}); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, DNSName: "setwarden.default.svc", CurrentTime: certsT0}); err == nil {
			t.Error("verified for a name it does not carry")
		}
		if want := certsT0.Add(90 * 24 * time.Hour); !c.NotAfter.Equal(want) {
			t.Errorf("NotAfter = %s, want %s", c.NotAfter, want)
		}
	})
	t.Run("a serving certificate never outlives its CA", func(t *testing.T) {
		c := certsServing(t, ca, p.DNSNames, certsT0.Add(300*24*time.Hour), 90*24*time.Hour).Cert
		if !c.NotAfter.Equal(ca.Cert.NotAfter) {
			t.Errorf("NotAfter = %s, want the CA's %s", c.NotAfter, ca.Cert.NotAfter)
		}
	})
	t.Run("a serving certificate needs a name", func(t *testing.T) {
		if _, err := NewServingCert(ca, nil, certsT0, time.Hour); err == nil || err.Error() != "a serving certificate needs at least one DNS name" {
			t.Errorf("err = %v", err)
		}
	})
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }
