package certs

import (
	"crypto/tls"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// Keys of the certificate Secret. tls.crt and tls.key follow the
// kubernetes.io/tls convention; ca.crt is the bundle the webhook
// configurations trust; ca.key signs new serving certificates and never
// leaves the Secret.
const (
	KeyServingCert = corev1.TLSCertKey
	KeyServingKey  = corev1.TLSPrivateKeyKey
	KeyCABundle    = "ca.crt"
	KeyCAKey       = "ca.key"
)

// StateFromSecret reads the rotation state from a Secret's data. Missing or
// damaged entries read as absent, so the next Plan replaces them.
func StateFromSecret(data map[string][]byte) State {
	s := State{Bundle: DecodeCerts(data[KeyCABundle])}
	if key, err := DecodeKey(data[KeyCAKey]); err == nil {
		for _, c := range s.Bundle {
			if c.IsCA && matches(c, key) {
				s.CA = &KeyPair{Cert: c, Key: key}
			}
		}
	}
	if certs := DecodeCerts(data[KeyServingCert]); len(certs) > 0 {
		if key, err := DecodeKey(data[KeyServingKey]); err == nil && matches(certs[0], key) {
			s.Serving = &KeyPair{Cert: certs[0], Key: key}
		}
	}
	return s
}

// SecretData returns the Secret data holding s.
func SecretData(s State) (map[string][]byte, error) {
	if s.CA == nil || s.Serving == nil {
		return nil, errors.New("incomplete certificate state")
	}
	caKey, err := EncodeKey(s.CA.Key)
	if err != nil {
		return nil, err
	}
	servingKey, err := EncodeKey(s.Serving.Key)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		KeyServingCert: EncodeCerts(s.Serving.Cert),
		KeyServingKey:  servingKey,
		KeyCABundle:    EncodeCerts(s.Bundle...),
		KeyCAKey:       caKey,
	}, nil
}

// ServingCertificate returns the serving certificate a Secret holds, ready
// for tls.Config.GetCertificate.
func ServingCertificate(data map[string][]byte) (*tls.Certificate, error) {
	if len(data[KeyServingCert]) == 0 || len(data[KeyServingKey]) == 0 {
		return nil, errors.New("the Secret holds no serving certificate yet")
	}
	cert, err := tls.X509KeyPair(data[KeyServingCert], data[KeyServingKey])
	if err != nil {
		return nil, fmt.Errorf("the Secret's serving certificate is unusable: %w", err)
	}
	return &cert, nil
}
