package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// Store holds the serving certificate in memory, so the webhook server
// needs no files and the root filesystem stays read-only. Every replica
// fills its Store from the Secret; only the elected one writes the Secret.
type Store struct {
	cert atomic.Pointer[tls.Certificate]

	mu     sync.Mutex
	loaded []byte
}

// GetCertificate implements tls.Config.GetCertificate.
func (s *Store) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c := s.cert.Load()
	if c == nil {
		return nil, errors.New("no serving certificate loaded yet")
	}
	return c, nil
}

// Load puts the Secret's serving certificate in force. It reports whether
// the certificate changed; an unusable one leaves the previous one in force.
func (s *Store) Load(data map[string][]byte) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pair := append(bytes.Clone(data[KeyServingCert]), data[KeyServingKey]...)
	if s.cert.Load() != nil && bytes.Equal(pair, s.loaded) {
		return false, nil
	}
	cert, err := ServingCertificate(data)
	if err != nil {
		return false, err
	}
	s.cert.Store(cert)
	s.loaded = pair
	return true, nil
}

// Checker fails until a serving certificate is loaded, so readiness stays
// false until the replica can complete a handshake.
func (s *Store) Checker(*http.Request) error {
	if s.cert.Load() == nil {
		return errors.New("no serving certificate loaded from the Secret yet")
	}
	return nil
}

// SecretHandler returns informer event handlers that keep the Store in step
// with the certificate Secret and call onChange (the Rotator's trigger on
// the leader) on every change. The informer must be scoped to that one
// Secret, by namespace and a metadata.name field selector.
func (s *Store) SecretHandler(ctx context.Context, onChange func()) toolscache.ResourceEventHandler {
	log := logf.FromContext(ctx)
	load := func(obj any) {
		secret, ok := obj.(*corev1.Secret)
		if !ok {
			return
		}
		changed, err := s.Load(secret.Data)
		switch {
		case err != nil:
			log.V(1).Info("Secret holds no usable serving certificate; keeping the one in force", "secret", klog.KObj(secret), "reason", err.Error())
		case changed:
			leaf := s.cert.Load().Leaf
			log.Info("Loaded serving certificate", "secret", klog.KObj(secret), "issuer", leaf.Issuer.CommonName, "notAfter", leaf.NotAfter)
		}
		if onChange != nil {
			onChange()
		}
	}
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    load,
		UpdateFunc: func(_, obj any) { load(obj) },
		DeleteFunc: func(any) {
			log.Info("Certificate Secret deleted; serving the certificate in memory until it is recreated")
			if onChange != nil {
				onChange()
			}
		},
	}
}
