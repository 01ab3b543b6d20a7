package certs

import (
	"bytes"
	"crypto/tls"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func TestCertsParseRotateBefore(t *testing.T) {
	tests := []struct {
		in      string
		want    RotateBefore
		wantErr string
	}{
		{in: "33%", want: RotateBefore{Fraction: 0.33}},
		{in: "0.25", want: RotateBefore{Fraction: 0.25}},
		{in: "720h", want: RotateBefore{Duration: 720 * time.Hour}},
		{in: "100%", wantErr: `"100%" is not a percentage between 0 and 100 exclusive`},
		{in: "1", wantErr: `"1" is not a fraction between 0 and 1 exclusive`},
		{in: "-5m", wantErr: `"-5m" is neither a fraction (0.33, 33%) nor a positive duration (720h)`},
		{in: "soon", wantErr: `"soon" is neither a fraction (0.33, 33%) nor a positive duration (720h)`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRotateBefore(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestCertsPolicyValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Policy)
		wantErr string
	}{
		{name: "the defaults of the test policy are valid", edit: func(*Policy) {}},
		{
			name:    "a rotation window shorter than twice the propagation delay cannot overlap",
			edit:    func(p *Policy) { p.Propagation = 13 * time.Hour },
			wantErr: "rotation window",
		},
		{
			name:    "a fixed rotation window as long as the lifetime is refused",
			edit:    func(p *Policy) { p.RotateBefore = RotateBefore{Duration: 3 * 24 * time.Hour} },
			wantErr: "the serving certificate rotation window (72h0m0s of 72h0m0s) must be shorter than its lifetime",
		},
		{name: "a policy without DNS names is refused", edit: func(p *Policy) { p.DNSNames = nil }, wantErr: "no DNS names for the serving certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := certsPolicy()
			tt.edit(&p)
			err := p.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tt.wantErr)) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestCertsSecretRoundTrip(t *testing.T) {
	p := certsPolicy()
	s, _ := certsPlan(t, p, State{}, certsT0)
	data, err := SecretData(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the Secret's data reads back as the same state", func(t *testing.T) {
		if back := StateFromSecret(data); !sameState(s, back) {
			t.Error("the state changed through the Secret")
		}
	})
	t.Run("the Secret's tls.crt and tls.key load as a TLS certificate for the serving certificate", func(t *testing.T) {
		cert, err := ServingCertificate(data)
		if err != nil {
			t.Fatal(err)
		}
		if !cert.Leaf.Equal(s.Serving.Cert) {
			t.Error("loaded another certificate")
		}
	})
	t.Run("an empty Secret, as the chart creates it, reads as an empty state", func(t *testing.T) {
		back := StateFromSecret(map[string][]byte{KeyServingCert: {}, KeyServingKey: {}})
		if back.CA != nil || back.Serving != nil || len(back.Bundle) != 0 {
			t.Errorf("got %+v", back)
		}
	})
	t.Run("a serving key that does not match the certificate reads as no serving certificate", func(t *testing.T) {
		bad := map[string][]byte{KeyServingCert: data[KeyServingCert], KeyServingKey: data[KeyCAKey], KeyCABundle: data[KeyCABundle], KeyCAKey: data[KeyCAKey]}
		if back := StateFromSecret(bad); back.Serving != nil || back.CA == nil {
			t.Errorf("serving %v, CA %v", back.Serving, back.CA)
		}
	})
}

func TestCertsStore(t *testing.T) {
	p := certsPolicy()
	s, _ := certsPlan(t, p, State{}, certsT0)
	data, _ := SecretData(s)
	store := &Store{}
	t.Run("an empty store refuses handshakes and readiness", func(t *testing.T) {
		if _, err := store.GetCertificate(&tls.ClientHelloInfo{}); err == nil {
			t.Error("GetCertificate succeeded")
		}
		if err := store.Checker(nil); err == nil || err.Error() != "no serving certificate loaded from the Secret yet" {
			t.Errorf("Checker = %v", err)
		}
	})
	t.Run("an empty Secret leaves the store empty", func(t *testing.T) {
		if changed, err := store.Load(map[string][]byte{}); changed || err == nil {
			t.Errorf("changed %v err %v", changed, err)
		}
	})
	t.Run("loading the Secret serves its certificate, and loading it again changes nothing", func(t *testing.T) {
		if changed, err := store.Load(data); !changed || err != nil {
			t.Fatalf("changed %v err %v", changed, err)
		}
		got, err := store.GetCertificate(&tls.ClientHelloInfo{})
		if err != nil || !got.Leaf.Equal(s.Serving.Cert) || store.Checker(nil) != nil {
			t.Fatalf("GetCertificate: %v", err)
		}
		if changed, _ := store.Load(data); changed {
			t.Error("the same Secret loaded as a change")
		}
	})
	t.Run("a damaged Secret keeps the certificate in force", func(t *testing.T) {
		damaged := map[string][]byte{KeyServingCert: data[KeyServingCert], KeyServingKey: []byte("garbage")}
		if _, err := store.Load(damaged); err == nil {
			t.Error("a damaged Secret loaded")
		}
		if got, _ := store.GetCertificate(nil); got == nil || !got.Leaf.Equal(s.Serving.Cert) {
			t.Error("the certificate in force was dropped")
		}
	})
}

func certsFakeObjects() []client.Object {
	svc := func(path string) admissionregistrationv1.WebhookClientConfig {
		return admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: "setwarden-system", Name: "setwarden", Path: &path}}
	}
	return []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "setwarden-system", Name: "setwarden-tls"}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{KeyServingCert: {}, KeyServingKey: {}}},
		&admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "setwarden"},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: "mutate.setwarden.dev", ClientConfig: svc("/mutate")}}},
		&admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "setwarden"},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{
				{Name: "validate.setwarden.dev", ClientConfig: svc("/validate")},
				{Name: "validate-2.setwarden.dev", ClientConfig: svc("/validate")},
			}},
		// Another product's webhook configuration must stay untouched.
		&admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "other"},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{Name: "other.example.com", ClientConfig: svc("/x")}}},
	}
}

func TestCertsRotatorReconcile(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(certsFakeObjects()...).Build()
	now := certsT0
	r := &Rotator{
		Reader: c, Writer: c,
		Secret:            types.NamespacedName{Namespace: "setwarden-system", Name: "setwarden-tls"},
		WebhookConfigName: "setwarden",
		Policy:            certsPolicy(),
		Resync:            time.Minute,
		Now:               func() time.Time { return now },
	}
	next, err := r.Reconcile(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{}
	if err := c.Get(t.Context(), r.Secret, secret); err != nil {
		t.Fatal(err)
	}
	bundle := secret.Data[KeyCABundle]
	t.Run("the empty Secret gets a CA and a serving certificate", func(t *testing.T) {
		s := StateFromSecret(secret.Data)
		if s.CA == nil || s.Serving == nil || len(s.Bundle) != 1 {
			t.Fatalf("state %+v", s)
		}
		if diff := cmp.Diff(certsPolicy().DNSNames, s.Serving.Cert.DNSNames); diff != "" {
			t.Errorf("DNS names (-want +got):\n%s", diff)
		}
	})
	t.Run("every webhook of both configurations gets the bundle, and no other configuration", func(t *testing.T) {
		m := &admissionregistrationv1.MutatingWebhookConfiguration{}
		v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		other := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		_ = c.Get(t.Context(), client.ObjectKey{Name: "setwarden"}, m)
		_ = c.Get(t.Context(), client.ObjectKey{Name: "setwarden"}, v)
		_ = c.Get(t.Context(), client.ObjectKey{Name: "other"}, other)
		got := [][]byte{m.Webhooks[0].ClientConfig.CABundle, v.Webhooks[0].ClientConfig.CABundle, v.Webhooks[1].ClientConfig.CABundle}
		for i, b := range got {
			if !bytes.Equal(b, bundle) {
				t.Errorf("webhook %d: caBundle differs from the Secret's ca.crt", i)
			}
		}
		if other.Webhooks[0].ClientConfig.CABundle != nil {
			t.Error("another product's webhook configuration got the bundle")
		}
	})
	t.Run("the next reconcile is due at the resync interval", func(t *testing.T) {
		if want := now.Add(time.Minute); !next.Equal(want) {
			t.Errorf("next = %s, want %s", next, want)
		}
	})
	t.Run("a second reconcile writes nothing", func(t *testing.T) {
		before := secret.ResourceVersion
		if _, err := r.Reconcile(t.Context()); err != nil {
			t.Fatal(err)
		}
		_ = c.Get(t.Context(), r.Secret, secret)
		if secret.ResourceVersion != before {
			t.Error("the Secret was written again")
		}
	})
	t.Run("a bundle removed from a configuration comes back at the next reconcile", func(t *testing.T) {
		v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		_ = c.Get(t.Context(), client.ObjectKey{Name: "setwarden"}, v)
		v.Webhooks[1].ClientConfig.CABundle = nil
		if err := c.Update(t.Context(), v); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Reconcile(t.Context()); err != nil {
			t.Fatal(err)
		}
		_ = c.Get(t.Context(), client.ObjectKey{Name: "setwarden"}, v)
		if !bytes.Equal(v.Webhooks[1].ClientConfig.CABundle, bundle) {
			t.Error("the bundle was not restored")
		}
	})
	t.Run("a missing Secret is an error that says setwarden never creates it", func(t *testing.T) {
		r2 := &Rotator{Reader: c, Writer: c, Secret: types.NamespacedName{Namespace: "setwarden-system", Name: "absent"}, WebhookConfigName: "setwarden", Policy: certsPolicy()}
		_, err := r2.Reconcile(t.Context())
		want := `reading the certificate Secret setwarden-system/absent (setwarden never creates it: the chart does): secrets "absent" not found`
		if err == nil || err.Error() != want {
			t.Errorf("err = %v\nwant %s", err, want)
		}
	})
}
